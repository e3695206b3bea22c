"""One endpoint's worker on its own, with an in-memory queue and a sender that only records:
the hand-over of fresh deliveries, the order, a retry holding the queue, batched outcomes and
the endpoint's failure count. Fast: no database, no network, no process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from listener.endpoints import Endpoint
from listener.messages import Delivery, Message
from listener.outcome import Outcome, Result
from listener.retry import RetryPolicy
from listener.senders import Senders
from listener.settings import ListenerSettings
from listener.store import HealthChange, SettledDelivery
from listener.worker import UNRECORDED_AT_MOST, EndpointWorker
from tests.waiting import until
from tiltbob.catalogue import EVENT_TYPES

ENDPOINT = Endpoint(1, "crew", "json", "https://example.org/hook", True, EVENT_TYPES)
SETTINGS = ListenerSettings(
    database_url="",
    site_url="https://museum.example.org",
    secret_keys=(),
    poll_interval=30.0,  # no poll timer within a test: every read is caused by the test
    retry=RetryPolicy(first_delay=0.02, max_delay=0.05),
)
DELIVERED = Outcome(Result.DELIVERED, 200, None, 1.0)
SERVER_ERROR = Outcome(Result.RETRY, 500, "500 server error", 1.0)
GONE = Outcome(Result.FAILED, 404, "404 not found", 1.0)


def delivery(n: int) -> Delivery:
    now = datetime.now(UTC)
    return Delivery(n, 100 + n, 0, now, now, "problem_report.created", now, "Ana", {})


class FakeQueue:
    """The endpoint's rows as the store keeps them: pending until an outcome says otherwise."""

    def __init__(self) -> None:
        self.rows: dict[int, Delivery] = {}
        self.status: dict[int, str] = {}
        self.reads = 0
        self.afters: list[int] = []
        self.recorded: list[list[SettledDelivery]] = []
        self.consecutive_failures: list[int] = []

    def add(self, *ns: int) -> list[Delivery]:
        added = [delivery(n) for n in ns]
        for d in added:
            self.rows[d.id], self.status[d.id] = d, "pending"
        return added

    async def next_deliveries(self, endpoint_id: int, limit: int, after: int = 0) -> list[Delivery]:
        self.reads += 1
        self.afters.append(after)
        pending = sorted(i for i, s in self.status.items() if s == "pending" and i > after)
        return [self.rows[i] for i in pending[:limit]]

    async def due_deliveries(
        self, endpoint_id: int, limit: int, in_hand: Collection[int], after: int = 0
    ) -> list[Delivery]:
        self.reads += 1
        self.afters.append(after)
        now = datetime.now(UTC)
        due = sorted(
            i
            for i, status in self.status.items()
            if status == "pending"
            and self.rows[i].next_attempt_at <= now
            and i not in in_hand
            and i > after
        )
        return [self.rows[i] for i in due[:limit]]

    async def next_due_at(self, endpoint_id: int) -> datetime | None:
        pending = [self.rows[i].next_attempt_at for i, s in self.status.items() if s == "pending"]
        return min(pending, default=None)

    async def record_outcomes(
        self,
        endpoint_id: int,
        settled: Sequence[SettledDelivery],
        health: HealthChange,
        at: datetime,
    ) -> datetime | None:
        for s in settled:
            row = self.rows[s.delivery_id]
            self.rows[s.delivery_id] = replace(
                row,
                attempts=row.attempts + 1,
                next_attempt_at=s.next_attempt_at or row.next_attempt_at,
            )
            self.status[s.delivery_id] = s.status
        self.recorded.append(list(settled))
        # As sql/queries.sql's record_outcomes counts them.
        before = self.consecutive_failures[-1] if self.consecutive_failures else 0
        trailing = health.trailing_failures
        self.consecutive_failures.append(trailing if health.any_success else before + trailing)
        return None  # endpoints here have no disable_after: their runs of failures never count

    async def disable_failing_endpoint(self, endpoint_id: int, at: datetime) -> int | None:
        raise AssertionError("no endpoint here turns itself off")

    # No endpoint here is a forum: its messages have no thread to look up.
    async def thread_of(self, endpoint_id: int, subject: str) -> str | None:
        raise AssertionError("no forum here")

    async def keep_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None:
        raise AssertionError("no forum here")

    async def forget_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None:
        raise AssertionError("no forum here")


class FakeSender:
    """Records every message; answers as ``answer`` says (by delivery id and attempt)."""

    def __init__(self, answer: Callable[[int, int], Awaitable[Outcome]] | None = None) -> None:
        self.sent: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._answer = answer

    async def send(self, url: str, message: Message) -> Outcome:
        [d] = message.deliveries
        self.sent.append(d.id)
        if self._answer is None:
            return DELIVERED
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(d.id, self.sent.count(d.id))
        finally:
            self.in_flight -= 1


async def started(
    queue: FakeQueue, sender: FakeSender, endpoint: Endpoint = ENDPOINT
) -> tuple[EndpointWorker, asyncio.Task[None]]:
    worker = EndpointWorker(endpoint, queue, Senders(http=sender, mail=sender), SETTINGS)
    task = asyncio.create_task(worker.run())
    await until(lambda: worker.idle, what="the worker to go idle")
    return worker, task


async def stopped(worker: EndpointWorker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await asyncio.wait_for(task, 2)


def test_an_idle_worker_sends_fresh_deliveries_without_reading_its_queue() -> None:
    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender()
        worker, task = await started(queue, sender)
        reads = queue.reads
        worker.take_fresh(queue.add(1, 2, 3))
        await until(lambda: len(sender.sent) == 3, what="three sends")
        await until(lambda: worker.idle, what="idle again")
        assert sender.sent == [1, 2, 3]
        assert queue.reads == reads, "fresh deliveries are the whole queue: no read needed"
        assert set(queue.status.values()) == {"delivered"}
        await stopped(worker, task)

    asyncio.run(scenario())


def test_a_busy_worker_keeps_the_order_when_fresh_deliveries_arrive() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def held_at_first(n: int, attempt: int) -> Outcome:
            if n == 1:
                await gate.wait()
            return DELIVERED

        queue, sender = FakeQueue(), FakeSender(held_at_first)
        worker, task = await started(queue, sender)
        queue.add(1)
        worker.read_queue_soon()
        await until(lambda: sender.sent == [1], what="the first send")
        # While 1 is in flight: 2 and 3 fanned out by another process (the worker is told to
        # read), then 4 and 5 given fresh. They must not overtake 2 and 3.
        queue.add(2, 3)
        worker.read_queue_soon()
        worker.take_fresh(queue.add(4, 5))
        gate.set()
        await until(lambda: len(sender.sent) == 5, what="five sends")
        await until(lambda: worker.idle, what="idle again")
        assert sender.sent == [1, 2, 3, 4, 5]
        await stopped(worker, task)

    asyncio.run(scenario())


def test_fresh_deliveries_a_read_of_the_queue_overtook_are_not_sent_again() -> None:
    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender()
        worker, task = await started(queue, sender)
        late = queue.add(1, 2)
        worker.read_queue_soon()  # another wake-up got there first
        await until(lambda: len(sender.sent) == 2 and worker.idle, what="two sends")
        worker.take_fresh(late)
        worker.take_fresh(queue.add(3))
        await until(lambda: 3 in sender.sent, what="the third send")
        await until(lambda: worker.idle, what="idle again")
        assert sender.sent == [1, 2, 3]
        await stopped(worker, task)

    asyncio.run(scenario())


def test_a_retry_holds_the_queue_behind_it() -> None:
    async def first_fails_twice(n: int, attempt: int) -> Outcome:
        return SERVER_ERROR if n == 1 and attempt <= 2 else DELIVERED

    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(first_fails_twice)
        worker, task = await started(queue, sender)
        queue.add(1, 2, 3)
        worker.read_queue_soon()
        await until(lambda: queue.status[3] == "delivered", what="all three delivered")
        assert sender.sent == [1, 1, 1, 2, 3], "2 and 3 waited for 1"
        assert queue.rows[1].attempts == 3
        retried = [s for batch in queue.recorded for s in batch if s.status == "pending"]
        assert len(retried) == 2 and all(s.next_attempt_at for s in retried)
        await stopped(worker, task)

    asyncio.run(scenario())


async def _on_the_wire(n: int, attempt: int) -> Outcome:
    """Delivered, after giving the loop a turn, as a real request does."""
    loop = asyncio.get_running_loop()
    turn = loop.create_future()
    loop.call_soon(turn.set_result, None)
    await turn
    return DELIVERED


def test_a_long_queue_is_read_page_after_page_and_from_the_head_after_a_retry() -> None:
    async def hundredth_fails_once(n: int, attempt: int) -> Outcome:
        return SERVER_ERROR if n == 100 and attempt == 1 else DELIVERED

    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(hundredth_fails_once)
        worker, task = await started(queue, sender)
        queue.afters.clear()
        queue.add(*range(1, 131))
        worker.read_queue_soon()
        await until(lambda: queue.status[130] == "delivered", what="all delivered")
        # Each page starts after the last one's end (an index seek past what is done); the
        # retry of 100 sends the next read back to the head, where 100 now is.
        assert queue.afters[:3] == [0, 50, 0]
        assert sender.sent == [*range(1, 101), *range(100, 131)]
        await stopped(worker, task)

    asyncio.run(scenario())


def test_outcomes_are_written_down_in_batches_beside_the_sending() -> None:
    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(_on_the_wire)
        worker, task = await started(queue, sender)
        queue.add(*range(1, 46))
        worker.read_queue_soon()
        await until(lambda: queue.status[45] == "delivered", what="45 delivered")
        sizes = [len(batch) for batch in queue.recorded]
        assert sum(sizes) == 45, "each outcome written down once"
        assert len(sizes) < 45 / 2, "one statement per outcome"
        # Written while the sending went on, not only at the end: a crash resends a few.
        assert len(sizes) >= 3 and max(sizes) <= UNRECORDED_AT_MOST
        await stopped(worker, task)

    asyncio.run(scenario())


def test_the_failure_count_is_the_failed_attempts_since_the_last_success() -> None:
    async def answers(n: int, attempt: int) -> Outcome:
        if n == 1 and attempt <= 2:
            return SERVER_ERROR
        return GONE if n == 3 else DELIVERED

    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(answers)
        worker, task = await started(queue, sender)
        queue.add(1, 2, 3)
        worker.read_queue_soon()
        await until(lambda: queue.status[3] == "failed", what="3 failed")
        assert max(queue.consecutive_failures) == 2, "two 500s in a row on 1"
        assert queue.consecutive_failures[-1] == 1, "the 404 on 3, after 2's success"
        await stopped(worker, task)

    asyncio.run(scenario())


def test_a_rate_limit_pause_of_infinity_does_not_hold_the_endpoint_forever() -> None:
    async def spent_bucket(n: int, attempt: int) -> Outcome:
        return Outcome(Result.DELIVERED, 200, None, 1.0, pause=float("inf"))

    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(spent_bucket)
        worker, task = await started(queue, sender)
        queue.add(1, 2)
        worker.read_queue_soon()
        await until(lambda: queue.status[2] == "delivered", what="the second, after the pause")
        await stopped(worker, task)

    asyncio.run(scenario())


# -- several in flight ------------------------------------------------------------------------

FOUR = replace(ENDPOINT, in_flight=4)


async def four_of_ten_held() -> tuple[
    FakeQueue, FakeSender, EndpointWorker, asyncio.Task[None], asyncio.Event
]:
    """Ten deliveries to an endpoint with four in flight, whose answers wait for the gate."""
    gate = asyncio.Event()

    async def held(n: int, attempt: int) -> Outcome:
        await gate.wait()
        return DELIVERED

    queue, sender = FakeQueue(), FakeSender(held)
    worker, task = await started(queue, sender, FOUR)
    queue.add(*range(1, 11))
    worker.read_queue_soon()
    await until(lambda: sender.in_flight == 4, what="four on their way")
    return queue, sender, worker, task, gate


def test_above_one_in_flight_that_many_are_on_their_way_at_once_and_no_more() -> None:
    async def scenario() -> None:
        queue, sender, worker, task, gate = await four_of_ten_held()
        assert sender.sent == [1, 2, 3, 4], "the oldest first, and no fifth before one answers"
        gate.set()
        await until(lambda: queue.status[10] == "delivered", what="all ten delivered")
        await until(lambda: worker.idle, what="idle again")
        assert sorted(sender.sent) == list(range(1, 11)), "each sent once"
        assert sender.most_in_flight == 4
        await stopped(worker, task)

    asyncio.run(scenario())


def test_above_one_in_flight_a_retry_holds_back_only_itself() -> None:
    async def first_fails_twice(n: int, attempt: int) -> Outcome:
        return SERVER_ERROR if n == 1 and attempt <= 2 else DELIVERED

    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(first_fails_twice)
        worker, task = await started(queue, sender, FOUR)
        queue.add(1, 2, 3)
        worker.read_queue_soon()
        await until(lambda: queue.status[1] == "delivered", what="1 delivered at last")
        assert sender.sent.index(3) < len(sender.sent) - 1, "3 did not wait for 1's retries"
        assert sender.sent.count(1) == 3 and sender.sent.count(2) == sender.sent.count(3) == 1
        assert queue.rows[1].attempts == 3
        await stopped(worker, task)

    asyncio.run(scenario())


def test_above_one_in_flight_a_rate_limit_holds_the_whole_endpoint() -> None:
    async def scenario() -> None:
        limited_at: list[float] = []
        sent_at: dict[int, float] = {}

        async def answers(n: int, attempt: int) -> Outcome:
            loop = asyncio.get_running_loop()
            sent_at.setdefault(n, loop.time())
            if n == 1 and attempt == 1:
                limited_at.append(loop.time())
                return Outcome(Result.RETRY, 429, "429 too many requests", 1.0, pause=0.05)
            return DELIVERED

        queue, sender = FakeQueue(), FakeSender(answers)
        worker, task = await started(queue, sender, replace(ENDPOINT, in_flight=2))
        queue.add(1)
        worker.read_queue_soon()
        await until(lambda: limited_at, what="the 429")
        queue.add(2, 3)
        worker.read_queue_soon()
        await until(lambda: queue.status[1] == "delivered", what="1 delivered after the pause")
        await until(lambda: queue.status[3] == "delivered", what="3 delivered")
        # Clamped to the schedule's bounds: 0.05 s asked for, and nothing went out before.
        assert min(sent_at[2], sent_at[3]) >= limited_at[0] + 0.04
        await stopped(worker, task)

    asyncio.run(scenario())


def test_above_one_in_flight_the_failure_count_goes_on() -> None:
    async def always_500(n: int, attempt: int) -> Outcome:
        return SERVER_ERROR

    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(always_500)
        worker, task = await started(queue, sender, FOUR)
        queue.add(1, 2, 3)
        worker.read_queue_soon()
        await until(lambda: len(sender.sent) >= 6, what="six failed attempts")
        await stopped(worker, task)
        assert queue.consecutive_failures[-1] == len(sender.sent)
        assert set(queue.status.values()) == {"pending"}, "retried, not given up"

    asyncio.run(scenario())


def test_above_one_in_flight_stopping_finishes_what_is_on_its_way() -> None:
    async def scenario() -> None:
        queue, sender, worker, task, gate = await four_of_ten_held()
        worker.stop()
        gate.set()
        await asyncio.wait_for(task, 2)
        assert sorted(sender.sent) == [1, 2, 3, 4], "nothing new started once stopping"
        assert [queue.status[n] for n in range(1, 11)] == ["delivered"] * 4 + ["pending"] * 6

    asyncio.run(scenario())


def test_above_one_in_flight_a_long_queue_is_read_page_after_page() -> None:
    async def scenario() -> None:
        queue, sender = FakeQueue(), FakeSender(_on_the_wire)
        worker, task = await started(queue, sender, FOUR)
        queue.afters.clear()
        queue.add(*range(1, 131))
        worker.read_queue_soon()
        await until(lambda: set(queue.status.values()) == {"delivered"}, what="all delivered")
        assert queue.afters[:3] == [0, 50, 100], "each page starts past the last one"
        assert sorted(sender.sent) == list(range(1, 131)), "each sent once"
        await stopped(worker, task)

    asyncio.run(scenario())
