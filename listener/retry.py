"""When to try a failed delivery again: exponential backoff with jitter over about a day, and
the waits that servers ask for (``retry_after``, ``Retry-After``, Discord's rate-limit headers).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = 2.0
    """Seconds before the first retry."""
    factor: float = 2.0
    max_delay: float = 3600.0
    """The longest wait between two attempts."""
    give_up_after: float = 86400.0
    """A delivery still failing this long after it was created is marked failed."""

    def delay(self, failed_attempts: int, rng: Callable[[], float] = random.random) -> float:
        """The wait after ``failed_attempts`` failures: exponential, capped, then jittered down
        to between half and all of it, so endpoints that failed together do not retry together."""
        exponent = max(0, failed_attempts - 1)
        # min() before the power would overflow on very long runs of failures.
        raw = (
            self.max_delay
            if exponent > 64
            else min(self.max_delay, self.first_delay * self.factor**exponent)
        )
        return raw * (0.5 + 0.5 * rng())

    def next_attempt(
        self,
        *,
        created_at: datetime,
        failed_attempts: int,
        now: datetime,
        retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> datetime | None:
        """When to try again, or ``None`` when the schedule has run out.

        A server's own ``retry_after`` is honoured (it knows its limits better than our backoff
        does) within the schedule's bounds: never longer than ``max_delay`` (a server asking for
        ``inf`` must not hold the queue forever), never past the schedule's end.
        """
        wait = (
            self.clamp(retry_after) if retry_after is not None else self.delay(failed_attempts, rng)
        )
        at = now + timedelta(seconds=wait)
        if at > created_at + timedelta(seconds=self.give_up_after):
            return None
        return at

    def clamp(self, seconds: float) -> float:
        """A wait a server asked for, within the schedule's bounds (0 to ``max_delay``)."""
        return min(max(seconds, 0.0), self.max_delay)

    def expired(self, created_at: datetime, now: datetime) -> str | None:
        """Why a delivery never attempted yet is too old to send, or ``None`` if it is not."""
        if now - created_at > timedelta(seconds=self.give_up_after):
            return _describe(self.give_up_after)
        return None


def _describe(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def _seconds(value: object) -> float | None:
    """A number of seconds a server sent; ``inf`` stays ``inf`` (callers clamp), ``nan`` and
    negatives are ignored."""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None  # nan >= 0 is False


def retry_after(
    headers: Mapping[str, str], body: bytes, now: datetime | None = None
) -> float | None:
    """The wait a 429 or 503 asks for, in seconds: Discord's JSON ``retry_after`` first, then
    ``Retry-After`` (seconds or an HTTP date), then ``X-RateLimit-Reset-After``."""
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict) and "retry_after" in parsed:
        found = _seconds(parsed["retry_after"])
        if found is not None:
            return found
    header = headers.get("retry-after")
    if header:
        found = _seconds(header)
        if found is not None:
            return found
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return _seconds(headers.get("x-ratelimit-reset-after", ""))


def rate_limit_pause(headers: Mapping[str, str]) -> float | None:
    """After a success: how long to hold the next request when the bucket is empty
    (Discord's ``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset-After``)."""
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    return _seconds(headers.get("x-ratelimit-reset-after", ""))
