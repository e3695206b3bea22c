"""Which Discord forum thread a delivery belongs in: its subject, and the name a new thread for
that subject gets (Discord's ``thread_name``, at most 100 characters). Pure, like all rendering.
"""

from __future__ import annotations

from typing import Any

from listener.messages import Delivery, Subject
from listener.render.text import cut, one_line

THREAD_NAME = 100
"""Discord's limit on a thread's name."""


def _record(snap: dict[str, Any], key: str) -> dict[str, Any]:
    found = snap.get(key)
    return found if isinstance(found, dict) else {}


def _id(record: dict[str, Any]) -> int | None:
    value = record.get("id")
    return value if type(value) is int and value > 0 else None


def subject_of(delivery: Delivery) -> Subject:
    """A problem report's events, and the work logs tied to it, share the report's thread; a
    machine's other events share the machine's; the notifier's own (an endpoint turned off) go
    to one thread of their own. A test message opens a thread of its own, so that its sample
    data never lands in a real report's thread."""
    snap = delivery.snapshot if isinstance(delivery.snapshot, dict) else {}
    about = _record(snap, "machine")
    machine = one_line(about.get("name")) or "Unknown machine"
    report = _record(snap, "problem_report")
    if snap.get("test"):
        key = f"test:{delivery.event_id}"
        name = f"🧪 TEST · {machine}"
    elif delivery.type.startswith("endpoint."):
        key, name = "notifier", "tiltbob: endpoints"
    elif _id(report) is not None:
        problem = one_line(report.get("problem_type_label")) or "Problem"
        key = f"report:{_id(report)}"
        name = f"{machine} · {problem} #{_id(report)}"
    elif _id(about) is not None:
        key, name = f"machine:{_id(about)}", machine
    else:
        key, name = "machine:unknown", machine
    return Subject(key, cut(name, THREAD_NAME))
