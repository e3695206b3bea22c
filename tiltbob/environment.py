"""Everything tiltbob reads from the environment, read in this one place.

Django's settings and the listener both build on :func:`load`; nothing else looks at
``os.environ`` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_SITE_URL = "http://127.0.0.1:8000"
LOG_FORMATS = ("json", "console")


class ConfigurationError(Exception):
    """The environment is missing something or holds something unusable; the message says what."""


@dataclass(frozen=True)
class Environment:
    database_url: str | None
    """``DATABASE_URL``; ``None`` means the embedded PostgreSQL under :attr:`data_dir`."""
    site_url: str
    """``SITE_URL`` without a trailing slash: links in messages start with it."""
    secret_keys: tuple[str, ...]
    """``TILTBOB_SECRET_KEYS``, newest first; empty when unset."""
    smtp_url: str | None
    log_format: str
    allow_http: bool
    allow_private_endpoints: bool
    """Endpoints on loopback, private or link-local addresses (a LAN receiver, local tests)."""
    trusted_proxies: tuple[str, ...]
    """Proxies whose X-Forwarded-For names the client (else REMOTE_ADDR is the client)."""
    report_min_seconds: float
    """``TILTBOB_REPORT_MIN_SECONDS``: a public report posted sooner after the form was shown is
    a bot's (thanked and ignored)."""
    data_dir: Path
    """``TILTBOB_DATA_DIR``, default ``.data`` in the working directory."""
    time_zone: str
    """``TILTBOB_TIME_ZONE``, an IANA name (default ``UTC``): the museum's clock, for pages,
    messages and work dates."""
    debug: bool

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def site_host(self) -> str:
        return urlsplit(self.site_url).hostname or "127.0.0.1"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def load(environ: Mapping[str, str] | None = None) -> Environment:
    env = os.environ if environ is None else environ
    site_url = (env.get("SITE_URL") or DEFAULT_SITE_URL).strip().rstrip("/")
    parts = urlsplit(site_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            f"SITE_URL must be an absolute http(s) URL such as {DEFAULT_SITE_URL}, got {site_url!r}"
        )
    log_format = (env.get("TILTBOB_LOG_FORMAT") or "json").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(
            f"TILTBOB_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}"
        )
    keys = tuple(k.strip() for k in (env.get("TILTBOB_SECRET_KEYS") or "").split(",") if k.strip())
    min_seconds = (env.get("TILTBOB_REPORT_MIN_SECONDS") or "3").strip()
    try:
        report_min_seconds = float(min_seconds)
    except ValueError:
        report_min_seconds = -1.0
    if not 0 <= report_min_seconds <= 600:
        raise ConfigurationError(
            "TILTBOB_REPORT_MIN_SECONDS must be a number of seconds from 0 to 600,"
            f" got {min_seconds!r}"
        )
    time_zone = (env.get("TILTBOB_TIME_ZONE") or "UTC").strip()
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            "TILTBOB_TIME_ZONE must be an IANA time zone such as Europe/Paris or"
            f" America/New_York, got {time_zone!r}"
        ) from None
    return Environment(
        database_url=(env.get("DATABASE_URL") or "").strip() or None,
        site_url=site_url,
        secret_keys=keys,
        smtp_url=(env.get("SMTP_URL") or "").strip() or None,
        log_format=log_format,
        allow_http=_flag(env.get("TILTBOB_ALLOW_HTTP")),
        allow_private_endpoints=_flag(env.get("TILTBOB_ALLOW_PRIVATE_ENDPOINTS")),
        trusted_proxies=tuple(
            p.strip() for p in env.get("TILTBOB_TRUSTED_PROXIES", "").split(",") if p.strip()
        ),
        report_min_seconds=report_min_seconds,
        data_dir=Path(env.get("TILTBOB_DATA_DIR") or ".data").absolute(),
        debug=_flag(env.get("TILTBOB_DEBUG")),
        time_zone=time_zone,
    )
