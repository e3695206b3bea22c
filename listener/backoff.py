"""How every loop of the listener keeps going through failures: wait longer after each one
(doubling, up to a cap), say what went wrong, and try again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
import structlog
from psycopg_pool import PoolTimeout

DATABASE_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
"""The database is away (restarting, unreachable, the pool exhausted): worth waiting out."""


@dataclass
class Backoff:
    first: float
    """Seconds after the first failure; doubles with each one after it."""
    cap: float
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the wait before the next try."""
        self.failures += 1
        return min(self.cap, self.first * 2.0 ** min(self.failures, 32))

    def succeeded(self) -> None:
        self.failures = 0


async def keep_running(
    what: str,
    step: Callable[[], Awaitable[None]],
    *,
    backoff: Backoff,
    log: structlog.typing.FilteringBoundLogger,
    after_failure: Callable[[], Awaitable[None]] | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> None:
    """Run ``step`` until ``stopped()`` (or until cancelled). A database error is logged as
    ``<what>.database_unavailable``, anything else (a bug) as ``<what>.error`` with its
    traceback; either way ``after_failure`` runs and the loop waits out the backoff."""
    task = asyncio.current_task()

    def cancelled() -> bool:
        return task is not None and task.cancelling() > 0

    while not stopped() and not cancelled():
        try:
            await step()
            backoff.succeeded()
            continue
        except DATABASE_ERRORS as error:
            delay = backoff.failed()
            log.warning(f"{what}.database_unavailable", error=str(error), retry_in=delay)
        except Exception:
            # A bug must not silently stop a loop: say so loudly and keep going.
            delay = backoff.failed()
            log.exception(f"{what}.error", retry_in=delay)
        if cancelled():
            # psycopg answers a cancellation in mid-query with an error of its own: the loop was
            # told to stop, whatever the error says.
            raise asyncio.CancelledError
        if after_failure is not None:
            await after_failure()
        await asyncio.sleep(delay)
