"""The listener's settings: the environment's, plus tuning given on the command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from listener.mail import SmtpConfig
from listener.retry import RetryPolicy


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ListenerSettings:
    database_url: str = field(repr=False)
    site_url: str
    secret_keys: tuple[str, ...] = field(repr=False)
    allow_http: bool = False
    allow_private_endpoints: bool = False
    """Send to loopback, private and link-local addresses too (else refused: no one can aim a
    webhook at the museum's own network or a cloud's metadata service)."""
    smtp: SmtpConfig | None = None
    """From ``SMTP_URL``; without it, mail endpoints retry until it is set."""
    mail_from: str = "tiltbob@localhost"
    poll_interval: float = 5.0
    """Seconds between looks for work that a lost wake-up would otherwise leave waiting."""
    fan_out_batch: int = 500
    """Events claimed and fanned out per transaction."""
    queue_read: int = 50
    """Deliveries an endpoint worker reads at a time."""
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    """The longest silence while an endpoint is sent to or answers."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    prune_after_days: float = 30.0
    """Finished deliveries and their events are deleted this long after they finish."""
    prune_interval: float = 3600.0
    pool_size: int = 4
    shutdown_grace: float = 10.0
    """Seconds SIGTERM waits for requests in flight before abandoning them (they stay pending)."""

    time_zone: tzinfo = UTC
    """The museum's (TILTBOB_TIME_ZONE): times in messages are shown in it."""
    clock: Callable[[], datetime] = field(default=system_clock, repr=False, compare=False)
    """The time by which an endpoint's run of failures is measured (turning it off after
    ``disable_after``); tests move it on instead of waiting a day."""

    @property
    def request_timeout(self) -> float:
        """The cap on one whole exchange: connect, send, then the answer in full."""
        return self.connect_timeout + 2 * self.read_timeout
