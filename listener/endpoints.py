"""The listener's cached view of the endpoints, reloaded whenever the config changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from listener import logs
from listener.store import EndpointRow
from tiltbob.endpoint_urls import InvalidEndpointURL, URLCipher


@dataclass(frozen=True)
class Endpoint:
    id: int
    name: str
    kind: str
    url: str = field(repr=False)
    enabled: bool
    event_types: tuple[str, ...]
    signing_secret: str | None = field(default=None, repr=False)
    """The ``whsec_`` secret that signs a json endpoint's requests."""
    refusal: str | None = None
    """Why this endpoint must not be driven (its deliveries wait), or None."""
    in_flight: int = 1
    """Messages on their way at once: 1 is strictly in order; above, order is not promised."""
    disable_after: timedelta | None = None
    """Turned off once failing continuously this long (None: never)."""
    quiet_period: timedelta | None = None
    """Calm bursts: one person's events on one machine are held until they have been quiet
    this long, then sent as one digest (listener.digest). None: off."""
    forum: bool = False
    """A Discord forum channel: each subject's messages go into a thread of its own."""
    hidden_fields: frozenset[str] = frozenset()
    """``type:key`` parts its messages leave out (tiltbob.catalogue.FIELDS)."""


def from_rows(
    rows: Iterable[EndpointRow], cipher: URLCipher, *, allow_http: bool
) -> dict[int, Endpoint]:
    """Every endpoint whose URL decrypts (one that does not is logged and left out).

    A plain-http URL is used only under TILTBOB_ALLOW_HTTP, else the endpoint carries a
    refusal: one added on a development machine must not send its token in clear once deployed.
    """
    log = logs.get()
    endpoints: dict[int, Endpoint] = {}
    for row in rows:
        try:
            url = cipher.decrypt(row.url_encrypted)
            secret = cipher.decrypt(row.secret_encrypted) if row.secret_encrypted else None
        except InvalidEndpointURL as error:
            log.error("endpoint.url_undecryptable", endpoint_id=row.id, error=str(error))
            continue
        refusal = None
        if url.startswith("http://") and not allow_http:
            refusal = "plain http:// URL; set TILTBOB_ALLOW_HTTP=1 only for local testing"
        endpoints[row.id] = Endpoint(
            id=row.id,
            name=row.name,
            kind=row.kind,
            url=url,
            enabled=row.enabled,
            event_types=tuple(row.event_types),
            signing_secret=secret,
            refusal=refusal,
            in_flight=max(1, row.in_flight),
            disable_after=row.disable_after,
            hidden_fields=frozenset(row.hidden_fields),
            forum=row.forum and row.kind == "discord",
            quiet_period=row.quiet_period if row.kind != "json" else None,
        )
    logs.SCRUBBER.know(e.url for e in endpoints.values())
    return endpoints
