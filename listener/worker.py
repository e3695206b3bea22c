"""One endpoint's worker: its queue, in order, at the pace the endpoint allows.

Only the process holding the endpoint's advisory lock runs its worker, so nothing here claims
rows: the queue is read, a message sent, and the outcome recorded. A worker that is slow,
rate limited or retrying delays nothing but its own endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

import sql
from listener import logs
from listener.endpoints import Endpoint
from listener.messages import Delivery, Message
from listener.outcome import Outcome, Result
from listener.render import RenderContext, render
from listener.settings import ListenerSettings

DATABASE_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class Sender(Protocol):
    async def send(self, url: str, message: Message) -> Outcome: ...


class EndpointWorker:
    def __init__(
        self,
        endpoint: Endpoint,
        pool: AsyncConnectionPool[Any],
        sender_for: Callable[[Endpoint], Sender],
        settings: ListenerSettings,
    ) -> None:
        self.endpoint = endpoint
        self._pool = pool
        self._sender_for = sender_for
        self._settings = settings
        self._wake = asyncio.Event()
        self._stopping = False
        self._not_before = 0.0  # monotonic: the endpoint's rate limit holds requests until then
        self._unrecorded: list[tuple[Message, Outcome]] = []
        self._log = logs.get().bind(endpoint_id=endpoint.id)

    def poke(self) -> None:
        """Something may be waiting in the queue: look now."""
        self._wake.set()

    def update(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.poke()

    def stop(self) -> None:
        """Finish the message in flight, then return."""
        self._stopping = True
        self.poke()

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                wait = await self._drain()
                failures = 0
            except DATABASE_ERRORS as error:
                failures += 1
                wait = min(self._settings.poll_interval, 0.1 * 2**failures)
                self._log.warning("worker.database_unavailable", error=str(error), retry_in=wait)
            except Exception:
                # A bug must not silently stop the endpoint: say so loudly and keep going.
                failures += 1
                wait = min(self._settings.poll_interval, 0.1 * 2**failures)
                self._log.exception("worker.error", retry_in=wait)
            await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
        self._wake.clear()

    async def _drain(self) -> float:
        """Send whatever is due, in order; return how long until something may be due."""
        await self._record_pending()
        while not self._stopping:
            deliveries = await self._read_queue()
            if not deliveries:
                return self._settings.poll_interval
            now = datetime.now(UTC)
            if deliveries[0].next_attempt_at > now:
                # The head is waiting out a retry; everything behind it waits too (in order).
                return (deliveries[0].next_attempt_at - now).total_seconds()
            due = _leading(deliveries, now)
            stale = self._settings.retry.expired(due[0].created_at, now)
            if stale:
                # Waited out the whole schedule (its endpoint disabled or its listener gone):
                # news that old would mislead more than help.
                await self._fail_head(due[0], f"expired: not sent within {stale}")
                continue
            context = RenderContext(self._settings.site_url, self._settings.mail_from, now)
            try:
                messages = render(self.endpoint, due, context)
            except Exception as error:
                # What cannot be rendered never will be: fail the head rather than block the queue.
                self._log.exception("delivery.render_failed", delivery_id=due[0].id)
                await self._fail_head(due[0], f"could not render: {type(error).__name__}")
                continue
            await self._send_in_order(messages)
        return 0.0

    async def _send_in_order(self, messages: list[Message]) -> None:
        """Send one message at a time; record each outcome while the next one is on its way
        (one recording in flight at most), and stop at the first that must be retried."""
        recording: asyncio.Task[None] | None = None
        try:
            for message in messages:
                if self._stopping:
                    break
                await self._hold_for_rate_limit()
                endpoint = self.endpoint
                outcome = await self._sender_for(endpoint).send(endpoint.url, message)
                if outcome.pause:
                    self._not_before = time.monotonic() + outcome.pause
                if recording is not None:
                    await recording
                self._unrecorded.append((message, outcome))
                recording = asyncio.create_task(self._record_pending())
                if outcome.result is Result.RETRY:
                    break  # the rest waits behind this one
        finally:
            if recording is not None:
                await recording

    async def _fail_head(self, delivery: Delivery, reason: str) -> None:
        self._unrecorded.append(
            (Message((delivery,), b"", {}), Outcome(Result.FAILED, None, reason, 0.0))
        )
        await self._record_pending()

    async def _read_queue(self) -> list[Delivery]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                sql.query("next_deliveries"),
                {"endpoint_id": self.endpoint.id, "limit": self._settings.queue_read},
            )
            return [Delivery(**row) for row in await cur.fetchall()]

    async def _hold_for_rate_limit(self) -> None:
        wait = self._not_before - time.monotonic()
        if wait > 0:
            self._log.info("endpoint.rate_limited", wait_s=round(wait, 3))
            await asyncio.sleep(wait)

    async def _record_pending(self) -> None:
        """Write down the outcomes not yet recorded (kept in memory while the database is away,
        so a delivery that went out is not sent again)."""
        while self._unrecorded:
            message, outcome = self._unrecorded[0]
            await self._record(message, outcome)
            self._unrecorded.pop(0)

    async def _record(self, message: Message, outcome: Outcome) -> None:
        ids = [d.id for d in message.deliveries]
        now = datetime.now(UTC)
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
        status = {Result.DELIVERED: "delivered", Result.RETRY: "pending", Result.FAILED: "failed"}
        async with self._pool.connection() as conn:
            await conn.execute(
                sql.query("record_outcome"),
                {
                    "ids": ids,
                    "status": status[result],
                    "next_attempt_at": next_at,
                    "status_code": outcome.status_code,
                    "error": error,
                    "duration_ms": outcome.duration_ms,
                    "endpoint_id": self.endpoint.id,
                    "succeeded": result is Result.DELIVERED,
                },
            )
        for delivery in message.deliveries:
            context = {
                "event_id": delivery.event_id,
                "delivery_id": delivery.id,
                "event_type": delivery.type,
                "attempt": delivery.attempts + 1,
                "status": outcome.status_code,
                "duration_ms": outcome.duration_ms,
            }
            if result is Result.DELIVERED:
                self._log.info("delivery.sent", **context)
            elif result is Result.RETRY:
                self._log.warning(
                    "delivery.retry_scheduled",
                    **context,
                    error=error,
                    next_attempt_at=next_at.isoformat() if next_at else None,
                )
            else:
                self._log.error("delivery.failed", **context, error=error)


def _leading(deliveries: list[Delivery], now: datetime) -> list[Delivery]:
    """The deliveries from the head of the queue up to the first that is not due yet."""
    due: list[Delivery] = []
    for delivery in deliveries:
        if delivery.next_attempt_at > now:
            break
        due.append(delivery)
    return due
