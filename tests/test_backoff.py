"""The listener's loops: waits grow after failures, and a loop told to stop stops, even when
psycopg answers the cancellation with an error of its own."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
import structlog

from listener.backoff import Backoff, keep_running

LOG = structlog.get_logger("test")


def test_waits_double_up_to_the_cap_and_start_over_after_a_success() -> None:
    backoff = Backoff(0.1, 1.0)
    assert [backoff.failed() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.succeeded()
    assert backoff.failed() == 0.2
    assert Backoff(0.1, 5.0, failures=10_000).failed() == 5.0  # no overflow


async def cancelled_in_mid_step(answer: str) -> None:
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # a query in flight, until cancelled
        except asyncio.CancelledError:
            if answer == "error":
                # What psycopg does when a query in flight is cancelled.
                raise psycopg.errors.QueryCanceled(
                    "canceling statement due to user request"
                ) from None
            return  # swallowed, as a library might

    task = asyncio.create_task(keep_running("test", step, backoff=Backoff(0.01, 0.01), log=LOG))
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert done, "the loop went on after being cancelled"


@pytest.mark.parametrize("answer", ["error", "swallowed"])
def test_a_cancelled_loop_stops(answer: str) -> None:
    asyncio.run(cancelled_in_mid_step(answer))
