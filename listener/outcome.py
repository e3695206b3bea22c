"""What became of one attempt to send a message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Result(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    result: Result
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None
    """The wait the endpoint asked for before the next attempt (429, 503)."""
    pause: float | None = None
    """After a success: hold the endpoint's next request this long (its rate limit is spent)."""
    answer: bytes = b""
    """The answer's body (capped), after a success or a 404: what a Discord forum needs."""
