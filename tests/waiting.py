"""Waiting on a condition with a deadline: the tests' only way to wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


def _checker(condition: Callable[[], Any], timeout: float, what: str) -> Callable[[], Any]:
    """A look at ``condition``: its truthy result, None to look again, or a failure once
    ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout

    def look() -> Any:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        return None

    return look


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    look = _checker(condition, timeout, what)
    while not (result := look()):
        time.sleep(0.02)  # poll interval of a deadline-bounded wait
    return result


async def until(
    condition: Callable[[], Any], *, timeout: float = 2.0, what: str = "condition"
) -> Any:
    """``wait_until`` inside an event loop: the loop keeps running while this waits."""
    look = _checker(condition, timeout, what)
    while not (result := look()):
        await asyncio.sleep(0.001)  # poll interval of a deadline-bounded wait
    return result
