"""What to send: pending deliveries, and the messages rendered from them for one endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from listener.endpoints import Endpoint


@dataclass(frozen=True)
class Delivery:
    """A pending delivery, with its event."""

    id: int
    event_id: int
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    type: str
    occurred_at: datetime
    actor: str
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One request to an endpoint, carrying one or more deliveries."""

    deliveries: tuple[Delivery, ...]
    body: bytes
    headers: dict[str, str]


def event_body(delivery: Delivery, site_url: str) -> dict[str, Any]:
    """The plain JSON form of an event: ``type``, ``id``, ``timestamp`` and ``data`` (the
    snapshot, with ``url``, the absolute link to the record)."""
    data = dict(delivery.snapshot)
    data["url"] = site_url + str(data.get("url_path") or "/")
    return {
        "type": delivery.type,
        "id": str(delivery.event_id),
        "timestamp": delivery.occurred_at.isoformat(),
        "data": data,
    }


def render(endpoint: Endpoint, deliveries: list[Delivery], site_url: str) -> list[Message]:
    """The messages for ``deliveries`` (oldest first), in the order they must be sent."""
    return [
        Message(
            deliveries=(d,),
            body=json.dumps(event_body(d, site_url), ensure_ascii=False).encode(),
            headers={"content-type": "application/json", "webhook-id": str(d.event_id)},
        )
        for d in deliveries
    ]
