"""Which PostgreSQL tiltbob talks to, as a URL for psycopg and as Django's DATABASES entry."""

from __future__ import annotations

from typing import Any

from psycopg.conninfo import conninfo_to_dict

from tiltbob import embedded
from tiltbob.environment import Environment

_embedded_url: str | None = None


def url(env: Environment) -> str:
    """``DATABASE_URL``, or the embedded server's URL (starting it on first use)."""
    global _embedded_url
    if env.database_url:
        return env.database_url
    if _embedded_url is None:
        _embedded_url = embedded.start(env.data_dir)
    return _embedded_url


def django_config(database_url: str) -> dict[str, Any]:
    """Django's ``DATABASES['default']`` for a libpq URL, parsed by psycopg itself."""
    params = conninfo_to_dict(database_url)
    known = {"dbname", "user", "password", "host", "port"}
    return {
        "ENGINE": "webapp.database",
        "NAME": params.get("dbname") or "",
        "USER": params.get("user") or "",
        "PASSWORD": params.get("password") or "",
        "HOST": params.get("host") or "",
        "PORT": str(params.get("port") or ""),
        "OPTIONS": {k: v for k, v in params.items() if k not in known},
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
