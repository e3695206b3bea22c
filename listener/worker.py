"""One endpoint's worker: its queue, in order, at the pace the endpoint allows.

Only the process holding the endpoint's advisory lock runs its worker, so nothing here claims
rows: the queue is read, a message sent, and the outcome recorded. A worker that is slow,
rate limited or retrying delays nothing but its own endpoint.

An endpoint's ``in_flight`` setting chooses between two ways of working its queue. At 1 (the
default) one message is on its way at a time, strictly in order, and a retry holds everything
behind it. Above 1, up to that many are on their way at once and order is not promised: what
is due is sent, a retry holds back only itself, and a rate limit still holds the whole endpoint.

The queue is read only when something may be in it that the worker has not seen: at start, when
told to (another process's fan-out, a test message, a reconnect), after a retry or an error, and
on the poll timer. Deliveries that this process's own fan-out gives it fresh, for an endpoint
that had nothing else pending, are the whole queue: an idle worker sends them straight away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from listener import digest, logs
from listener.backoff import DATABASE_ERRORS, Backoff, keep_running
from listener.endpoints import Endpoint
from listener.messages import Delivery, Message
from listener.outcome import Outcome, Result
from listener.render import RenderContext, render
from listener.render.digest import render_units
from listener.senders import Senders
from listener.settings import ListenerSettings
from listener.store import HealthChange, QueueStore, SettledDelivery
from listener.threads import ForumThreads

RECORD_EVERY = 10
RECORD_WITHIN = 0.1
"""Outcomes are written down in one statement once this many have gathered, or once the oldest
has waited this many seconds. The statement runs beside the sending, not in its way; the queue
is read again only once all of it is written down."""
UNRECORDED_AT_MOST = 2 * RECORD_EVERY
"""While a write is on its way, sending goes on until this many outcomes wait: what a crash may
send a second time (with the request in flight)."""


class EndpointWorker:
    def __init__(
        self,
        endpoint: Endpoint,
        store: QueueStore,
        senders: Senders,
        settings: ListenerSettings,
    ) -> None:
        self.endpoint = endpoint
        self._store = store
        self._senders = senders
        self._settings = settings
        self._wake = asyncio.Event()
        self._must_read = True
        """Something may be pending that only a read of the queue will show."""
        self._continue_after: int | None = None
        """The last id of a full read of the queue, all of it sent (or in hand) since: the
        next read starts after it, an index seek past what is done rather than a walk over
        its dead entries."""
        self._fresh: list[Delivery] = []
        """Deliveries the fan-out gave straight to this idle worker: its whole queue."""
        self._idle = False
        """Waiting with nothing pending: fresh deliveries are then the whole queue."""
        self._sent_through = 0
        """The highest delivery id sent or failed here: fresh deliveries that a read of the
        queue overtook (already sent) are dropped."""
        self._stopping = False
        self._not_before = 0.0  # monotonic: the endpoint's rate limit holds requests until then
        self._unrecorded: list[tuple[Message, Outcome]] = []
        self._recording: asyncio.Task[None] | None = None
        """Outcomes being written down beside the sending."""
        self._record_lock = asyncio.Lock()
        self._log = logs.get().bind(endpoint_id=endpoint.id)
        self._threads = ForumThreads(store, endpoint.id, self._log)

    @property
    def idle(self) -> bool:
        """Waiting with nothing pending (as far as this worker knows)."""
        return self._idle

    def read_queue_soon(self) -> None:
        """Something may be waiting in the queue that only a read will show: read it now."""
        self._read_again()
        self._wake.set()

    def take_fresh(self, deliveries: list[Delivery]) -> None:
        """Deliveries just fanned out to this endpoint, which had nothing else pending.

        Only an idle worker can take them as they are; a busy one may be sending what came
        before them, so it reads its queue instead, in order.
        """
        if not self._idle:
            self.read_queue_soon()
            return
        self._fresh.extend(deliveries)
        self._wake.set()

    def update(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.read_queue_soon()

    def stop(self) -> None:
        """Finish the message in flight, then return."""
        self._stopping = True
        self.read_queue_soon()

    async def run(self) -> None:
        async def after_failure() -> None:
            self._read_again()  # whatever was in hand is still in the queue

        await keep_running(
            "worker",
            self._drain_then_wait,
            stopped=lambda: self._stopping,
            backoff=Backoff(0.1, self._settings.poll_interval),
            log=self._log,
            after_failure=after_failure,
        )

    async def _drain_then_wait(self) -> None:
        await self._sleep(await self._drain())

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            return
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await self._wake.wait()
        except TimeoutError:
            # The poll timer: read the queue, whatever a lost wake-up may have left there.
            self._read_again()
        self._wake.clear()

    async def _drain(self) -> float:
        """Send whatever is due; return how long until something may be due."""
        self._idle = False
        await self._record_pending()
        # A forum's messages go one at a time: a thread is opened before anything goes into it;
        # a quiet period's bursts are planned on the queue in order.
        e = self.endpoint
        if e.in_flight > 1 and not e.forum and not e.quiet_period:
            return await self._drain_concurrently()
        while not self._stopping:
            deliveries = await self._next_deliveries()
            if not deliveries:
                self._idle = True
                return self._settings.poll_interval
            now = datetime.now(UTC)
            if deliveries[0].next_attempt_at > now:
                # The head is waiting out a retry; everything behind it waits too (in order).
                self._read_again()
                return (deliveries[0].next_attempt_at - now).total_seconds()
            due = _due_from_head(deliveries, now)
            if len(due) < len(deliveries):
                self._read_again()  # the rest is read again once due
            stale = self._settings.retry.expired(due[0].created_at, now)
            if stale:
                # Waited out the whole schedule (its endpoint disabled or its listener gone):
                # news that old would mislead more than help.
                await self._fail_head(due[0], f"expired: not sent within {stale}")
                continue
            context = self._render_context(now)
            e, plan = self.endpoint, None
            if e.quiet_period:
                plan = digest.plan(due, e.quiet_period, self._settings.clock(), forum=e.forum)
                if plan.held:
                    self._read_again()  # what is held is read again, from the head
                if not plan.units:
                    until = (plan.wake_at or now) - self._settings.clock()
                    # Polled, not slept through: the clock may be moved on (tests) meanwhile.
                    return min(max(until.total_seconds(), 0.0), self._settings.poll_interval)
            try:
                messages = render_units(e, plan.units, context) if plan else render(e, due, context)
            except Exception as error:
                # What cannot be rendered never will be: fail the head rather than block the queue.
                self._log.exception("delivery.render_failed", delivery_id=due[0].id)
                await self._fail_head(due[0], f"could not render: {type(error).__name__}")
                continue
            await self._send_in_order(messages)
        return 0.0

    async def _drain_concurrently(self) -> float:
        """Keep up to ``in_flight`` messages on their way, in no promised order, until nothing
        due is left; outcomes are written down as in order, every RECORD_EVERY or
        RECORD_WITHIN."""
        flying: dict[asyncio.Task[Outcome], Message] = {}
        ready: list[Message] = []
        since = time.monotonic()
        woken: asyncio.Task[bool] | None = None
        try:
            while True:
                while not self._stopping and len(flying) < self.endpoint.in_flight:
                    if not ready:
                        ready = await self._due_messages(flying.values())
                        if not ready:
                            break
                    message = ready.pop(0)
                    flying[asyncio.create_task(self._send(message))] = message
                if not flying:
                    break
                # Wake for the first answer, or for news of more to send while slots are free.
                if woken is None or woken.done():
                    self._wake.clear()
                    woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait([*flying, woken], return_when=asyncio.FIRST_COMPLETED)
                for answered in [task for task in flying if task.done()]:
                    self._unrecorded.append((flying.pop(answered), answered.result()))
                since = await self._record_when_due(since)
        finally:
            if woken is not None:
                woken.cancel()
            if flying:
                # Stopped or failed: what is on its way still finishes and is written down.
                answers = await asyncio.gather(*flying, return_exceptions=True)
                self._unrecorded.extend(
                    (message, answer)
                    for message, answer in zip(flying.values(), answers, strict=True)
                    if isinstance(answer, Outcome)
                )
            await self._record_pending()
        if self._stopping:
            return 0.0
        self._idle = True
        due_at = await self._store.next_due_at(self.endpoint.id)
        if due_at is None:
            return self._settings.poll_interval
        wait = (due_at - datetime.now(UTC)).total_seconds()
        return min(self._settings.poll_interval, max(0.0, wait))

    async def _due_messages(self, flying: Iterable[Message]) -> list[Message]:
        """The next due deliveries not already in hand, rendered; the expired and the
        unrenderable are failed here, and never hold back the rest."""
        in_hand = {d.id for m in flying for d in m.deliveries}
        in_hand |= {d.id for m, _ in self._unrecorded for d in m.deliveries}
        taken, self._fresh = self._fresh, []
        deliveries = [d for d in taken if d.id not in in_hand]
        if not deliveries and self._must_read:
            self._must_read = False
            # A page after a full page starts past it; a retry that fell due behind it is
            # found by the next read from the head (when the backlog is through, or sooner).
            after, self._continue_after = self._continue_after or 0, None
            deliveries = await self._store.due_deliveries(
                self.endpoint.id, self._settings.queue_read, in_hand, after
            )
            if len(deliveries) >= self._settings.queue_read:
                self._must_read = True  # more behind these
                self._continue_after = deliveries[-1].id
        now = datetime.now(UTC)
        sendable: list[Delivery] = []
        for delivery in deliveries:
            stale = self._settings.retry.expired(delivery.created_at, now)
            if stale:
                self._fail(delivery, f"expired: not sent within {stale}")
            else:
                sendable.append(delivery)
        if not sendable:
            return []
        context = self._render_context(now)
        try:
            return render(self.endpoint, sendable, context)
        except Exception as error:
            self._log.exception("delivery.render_failed", delivery_id=sendable[0].id)
            for delivery in sendable:
                self._fail(delivery, f"could not render: {type(error).__name__}")
            return []

    def _render_context(self, now: datetime) -> RenderContext:
        s = self._settings
        return RenderContext(s.site_url, s.mail_from, now, s.time_zone)

    async def _send(self, message: Message) -> Outcome:
        """One message, after the endpoint's rate limit. A wait the server asks for (a spent
        bucket, a 429's or 503's retry-after) holds every message to the endpoint, not just
        this one: with several in flight, the others would otherwise run into it."""
        await self._hold_for_rate_limit()
        endpoint = self.endpoint
        message = await self._threads.address(message)
        outcome = await self._senders.for_kind(endpoint.kind).send(endpoint.url, message)
        outcome = await self._threads.settle(message, outcome)
        asked = outcome.pause or outcome.retry_after
        if asked:
            # Within the schedule's bounds, whatever the server asked for.
            pause = self._settings.retry.clamp(asked)
            self._not_before = max(self._not_before, time.monotonic() + pause)
        return outcome

    def _fail(self, delivery: Delivery, reason: str) -> None:
        self._unrecorded.append(
            (Message((delivery,), b"", {}), Outcome(Result.FAILED, None, reason, 0.0))
        )

    async def _next_deliveries(self) -> list[Delivery]:
        """Fresh deliveries, else what the queue holds when it must be read, else nothing."""
        taken, self._fresh = self._fresh, []
        fresh = [d for d in taken if d.id > self._sent_through]
        if fresh:
            return fresh
        if not self._must_read:
            return []
        self._must_read = False
        after, self._continue_after = self._continue_after or 0, None
        deliveries = await self._read_queue(after)
        if len(deliveries) >= self._settings.queue_read:
            self._must_read = True  # more behind these
            self._continue_after = deliveries[-1].id
        return deliveries

    def _read_again(self) -> None:
        """Read the queue from its head next time."""
        self._must_read = True
        self._continue_after = None

    async def _send_in_order(self, messages: list[Message]) -> None:
        """Send one message at a time and stop at the first that must be retried. Outcomes are
        written down together, after the last message, every RECORD_EVERY of them or every
        RECORD_WITHIN seconds: a statement per message would cost more than the sending, and a
        crash resends at most that many."""
        since = time.monotonic()
        try:
            for message in messages:
                if self._stopping:
                    break
                outcome = await self._send(message)
                self._unrecorded.append((message, outcome))
                if outcome.result is Result.RETRY:
                    self._read_again()
                    break  # the rest waits behind this one
                self._sent_through = max(self._sent_through, message.deliveries[-1].id)
                since = await self._record_when_due(since)
        finally:
            await self._record_pending()

    async def _fail_head(self, delivery: Delivery, reason: str) -> None:
        self._fail(delivery, reason)
        self._sent_through = max(self._sent_through, delivery.id)
        self._read_again()  # what stood behind it
        await self._record_pending()

    async def _read_queue(self, after: int = 0) -> list[Delivery]:
        return await self._store.next_deliveries(self.endpoint.id, self._settings.queue_read, after)

    async def _hold_for_rate_limit(self) -> None:
        wait = self._not_before - time.monotonic()
        if wait > 0:
            self._log.info("endpoint.rate_limited", wait_s=round(wait, 3))
            await asyncio.sleep(wait)

    async def _record_when_due(self, since: float) -> float:
        """Start writing down what has gathered once RECORD_EVERY outcomes wait or
        RECORD_WITHIN has passed since ``since``; the time to count from next."""
        if len(self._unrecorded) < RECORD_EVERY and time.monotonic() - since < RECORD_WITHIN:
            return since
        await self._record_soon()
        return time.monotonic()

    async def _record_soon(self) -> None:
        """Start writing down what has gathered, beside the sending (or, once
        UNRECORDED_AT_MOST wait, write it down before sending on). A database error leaves
        the outcomes in hand for the next write (the one before the queue is read again
        raises it); anything else is raised here, for the worker's failure path."""
        running = self._recording
        if running is not None and not running.done():
            if len(self._unrecorded) >= UNRECORDED_AT_MOST:
                await self._record_pending()
            return  # else it takes what gathers meanwhile next time
        error = running.exception() if running is not None and not running.cancelled() else None
        if error is not None:
            raise error
        self._recording = asyncio.create_task(self._record_beside())

    async def _record_beside(self) -> None:
        with suppress(*DATABASE_ERRORS):
            await self._record_pending()

    async def _record_pending(self) -> None:
        """Write down the outcomes not yet recorded (kept in memory while the database is away,
        so a delivery that went out is not sent again). One write at a time: each takes what
        the one before left."""
        async with self._record_lock:
            if not self._unrecorded:
                return
            batch = list(self._unrecorded)
            await self._record(batch)
            del self._unrecorded[: len(batch)]

    async def _record(self, batch: list[tuple[Message, Outcome]]) -> None:
        now = datetime.now(UTC)
        per_message = [
            self._share_per_delivery(message, outcome, now) for message, outcome in batch
        ]
        rows = [row for shares in per_message for row in shares]
        # The endpoint's health counts attempts (messages), not the deliveries they carried.
        attempts = [shares[0] for shares in per_message]
        failures = [row for row in attempts if row.result is not Result.DELIVERED]
        succeeded = [n for n, row in enumerate(attempts) if row.result is Result.DELIVERED]
        at = self._settings.clock()
        failing_since = await self._store.record_outcomes(
            self.endpoint.id,
            [
                SettledDelivery(
                    delivery_id=row.delivery.id,
                    status=_STATUS[row.result],
                    next_attempt_at=row.next_attempt_at,
                    status_code=row.outcome.status_code,
                    error=row.error,
                    duration_ms=row.outcome.duration_ms,
                )
                for row in rows
            ],
            HealthChange(
                any_success=bool(succeeded),
                any_failure=bool(failures),
                # Failures since the last success: the endpoint's run of bad luck goes on.
                trailing_failures=len(attempts) - 1 - succeeded[-1] if succeeded else len(attempts),
                last_error=failures[-1].error if failures else None,
            ),
            at,
        )
        for row in rows:
            delivery, outcome = row.delivery, row.outcome
            context = {
                "event_id": delivery.event_id,
                "delivery_id": delivery.id,
                "event_type": delivery.type,
                "attempt": delivery.attempts + 1,
                "status": outcome.status_code,
                "duration_ms": outcome.duration_ms,
            }
            if row.result is Result.DELIVERED:
                self._log.info("delivery.sent", **context)
            elif row.result is Result.RETRY:
                self._log.warning(
                    "delivery.retry_scheduled",
                    **context,
                    error=row.error,
                    next_attempt_at=row.next_attempt_at.isoformat()
                    if row.next_attempt_at
                    else None,
                )
            else:
                self._log.error("delivery.failed", **context, error=row.error)
        if failures:
            await self._turn_off_if_failing_too_long(failing_since, at)

    async def _turn_off_if_failing_too_long(
        self, failing_since: datetime | None, at: datetime
    ) -> None:
        """An endpoint that has failed continuously for its ``disable_after`` is turned off: the
        database does it and announces it (``endpoint.disabled``); this worker stops sending,
        and what is pending stays pending."""
        limit = self.endpoint.disable_after
        if failing_since is None or limit is None or at - failing_since < limit:
            return
        event_id = await self._store.disable_failing_endpoint(self.endpoint.id, at)
        if event_id is None:
            return  # enabled again, or turned off, by someone else meanwhile
        self._log.error(
            "endpoint.auto_disabled",
            failing_since=failing_since.isoformat(),
            disable_after_s=limit.total_seconds(),
            event_id=event_id,
        )
        self.stop()

    def _share_per_delivery(
        self, message: Message, outcome: Outcome, now: datetime
    ) -> list[_Share]:
        """What an outcome makes of each delivery its message carried: a retry past the end of
        the schedule is a failure."""
        result, error = outcome.result, outcome.error
        next_at: datetime | None = None
        if result is Result.RETRY:
            head = message.deliveries[0]
            next_at = self._settings.retry.next_attempt(
                created_at=head.created_at,
                failed_attempts=head.attempts + 1,
                now=now,
                retry_after=outcome.retry_after,
            )
            if next_at is None:
                result, error = (
                    Result.FAILED,
                    f"gave up after {head.attempts + 1} attempts: {error}",
                )
        return [_Share(d, outcome, result, error, next_at) for d in message.deliveries]


@dataclass(frozen=True)
class _Share:
    """One delivery's share of an outcome."""

    delivery: Delivery
    outcome: Outcome
    result: Result
    error: str | None
    next_attempt_at: datetime | None


_STATUS = {Result.DELIVERED: "delivered", Result.RETRY: "pending", Result.FAILED: "failed"}


def _due_from_head(deliveries: list[Delivery], now: datetime) -> list[Delivery]:
    """The deliveries from the head of the queue up to the first that is not due yet."""
    due: list[Delivery] = []
    for delivery in deliveries:
        if delivery.next_attempt_at > now:
            break
        due.append(delivery)
    return due
