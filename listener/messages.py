"""Pending deliveries, and the messages that carry them to an endpoint."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """A pending delivery, with its event."""

    id: int
    event_id: int
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    """Where its age starts for the give-up schedule: when it was written, or when it was
    sent on purpose after its endpoint held it back."""
    type: str
    occurred_at: datetime
    actor: str
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Subject:
    """What a Discord forum thread is about (listener.render.threads decides)."""

    key: str
    """``report:<id>``, ``machine:<id>``, ``notifier``, or ``test:<event id>``."""
    name: str
    """The thread's name, should this message open it."""


@dataclass(frozen=True)
class Message:
    """One request to an endpoint (or one mail), carrying one or more deliveries."""

    deliveries: tuple[Delivery, ...]
    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    """Added to the endpoint URL's query (Discord's ``wait=true``, ``thread_id``)."""
    mail: EmailMessage | None = None
    thread: Subject | None = None
    """A Discord forum endpoint's: the subject whose thread the message goes into, opened by
    it if there is none yet."""


def record_url(delivery: Delivery, site_url: str) -> str:
    """The link to what the event is about: ``SITE_URL`` and a path built from the record's
    integer id, never from text in the snapshot (anyone who can write the outbox could put
    ``@evil.example/`` there)."""
    snap = delivery.snapshot if isinstance(delivery.snapshot, dict) else {}
    if delivery.type.startswith("problem_report."):
        record, path = snap.get("problem_report"), "/problem-reports/{}/"
    elif delivery.type.startswith("endpoint."):
        record, path = snap.get("endpoint"), "/admin/notifications/endpoint/{}/change/"
    else:
        record, path = snap.get("log_entry"), "/logs/{}/"
    record_id = record.get("id") if isinstance(record, dict) else None
    if type(record_id) is not int or record_id <= 0:
        return site_url + "/"
    return site_url + path.format(record_id)


# What a hidden field (tiltbob.catalogue.FIELDS) takes out of a json body's data: the snapshot
# keys that carry it. A problem report's reporter is also its actor.
_SNAPSHOT_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "location": (("location",),),
    "reporter": (("problem_report", "reporter"), ("problem_report", "reporter_name"), ("actor",)),
    "description": (("problem_report", "description"),),
    "actor": (("actor",), ("log_entry", "created_by")),
    "note": (("note",), ("log_entry", "text")),
    "maintainers": (("log_entry", "maintainers"),),
    "work_date": (("log_entry", "work_date"),),
    "text": (("log_entry", "text"),),
    "failing_since": (("failing_since",),),
    "failures": (("failures",),),
    "held": (("held",),),
    "last_error": (("last_error",),),
}


def _without(data: dict[str, Any], event_type: str, hidden: Collection[str]) -> dict[str, Any]:
    for name in hidden:
        kind, _, key = name.partition(":")
        if kind != event_type:
            continue
        for path in _SNAPSHOT_KEYS.get(key, ()):
            parent: Any = data
            for step in path[:-1]:
                child = parent.get(step) if isinstance(parent, dict) else None
                if isinstance(child, dict):
                    child = parent[step] = dict(child)  # a copy: the snapshot stays whole
                parent = child
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
    return data


def event_body(delivery: Delivery, site_url: str, hidden: Collection[str] = ()) -> dict[str, Any]:
    """The plain JSON form of an event: ``type``, ``id``, ``timestamp`` and ``data`` (the
    snapshot, with ``url``, the absolute link to the record), less the fields ``hidden``."""
    data = _without(dict(delivery.snapshot), delivery.type, hidden)
    data["url"] = record_url(delivery, site_url)
    data["url_path"] = data["url"][len(site_url) :]  # the same, never the snapshot's text
    body: dict[str, Any] = {
        "type": delivery.type,
        "id": str(delivery.event_id),
        "timestamp": delivery.occurred_at.isoformat(),
        "data": data,
    }
    if data.pop("test", False):
        body["test"] = True  # a test message: sample data, nothing happened
    return body
