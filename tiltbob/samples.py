"""Sample data of every event type: for test messages, and for the renderers' golden files."""

from __future__ import annotations

from typing import Any

from tiltbob.catalogue import EVENT_TYPES, NOTIFIER, VISITOR, summary

_MACHINE = {
    "id": 1,
    "name": "Medieval Madness",
    "slug": "medieval-madness",
    "status": "broken",
    "status_label": "Broken",
}
_LOCATION = {"id": 1, "name": "Floor 1"}
_REPORT = {
    "id": 12,
    "problem_type": "stuck_ball",
    "problem_type_label": "Stuck ball",
    "description": "The ball is stuck behind the castle gate and the game is waiting for it.",
    "reporter_name": "Zoe",
    "reporter": "Zoe",
    "status": "open",
    "created_at": "2026-11-28T15:04:07+00:00",
}
_ENTRY = {
    "id": 34,
    "kind": "manual",
    "text": "Replaced the left flipper coil (FL-11630) and adjusted the EOS switch.",
    "work_date": "2026-11-28",
    "created_by": "Ana Martins",
    "maintainers": ["Ana Martins", "Ben Okafor"],
}


def snapshot(event_type: str, *, test: bool = False) -> dict[str, Any]:
    """A snapshot shaped like the ones the capture triggers (or, for ``endpoint.disabled``,
    the listener) write (docs/events.md)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if event_type == "endpoint.disabled":
        return _endpoint_disabled(test)
    snap: dict[str, Any] = {
        "type": event_type,
        "actor": "Ana Martins",
        "note": "",
        "machine": dict(_MACHINE),
        "location": dict(_LOCATION),
        "problem_report": None,
        "log_entry": None,
        "change": None,
    }
    if event_type == "problem_report.created":
        snap.update(
            summary=summary(event_type, "Stuck ball"),
            actor=VISITOR,
            problem_report=dict(_REPORT),
            url_path="/problem-reports/12/",
        )
    elif event_type in {"problem_report.closed", "problem_report.reopened"}:
        closed = event_type.endswith("closed")
        snap.update(
            summary=summary(event_type),
            note="Freed the ball; the gate's diverter was sticking." if closed else "Stuck again.",
            problem_report={**_REPORT, "status": "closed" if closed else "open"},
            log_entry={
                **_ENTRY,
                "id": 35,
                "kind": "report_closed" if closed else "report_reopened",
            },
            change={
                "field": "status",
                "old": "open" if closed else "closed",
                "new": "closed" if closed else "open",
            },
            url_path="/problem-reports/12/",
        )
    elif event_type == "log_entry.created":
        snap.update(summary=summary(event_type), log_entry=dict(_ENTRY), url_path="/logs/34/")
    elif event_type == "machine.added":
        snap.update(
            summary=summary(event_type),
            machine={**_MACHINE, "status": "unknown", "status_label": "Unknown"},
            log_entry={**_ENTRY, "id": 36, "kind": "machine_added", "maintainers": []},
            url_path="/logs/36/",
        )
    elif event_type == "machine.status_changed":
        snap.update(
            summary=summary(event_type, "Good", "Broken"),
            note="Right flipper dead.",
            change={
                "field": "status",
                "old": "good",
                "new": "broken",
                "old_label": "Good",
                "new_label": "Broken",
            },
            log_entry={**_ENTRY, "id": 37, "kind": "status_changed", "maintainers": []},
            url_path="/logs/37/",
        )
    elif event_type == "machine.location_changed":
        snap.update(
            summary=summary(event_type, "Floor 1", "Floor 2"),
            location={"id": 2, "name": "Floor 2"},
            change={
                "field": "location",
                "old": 1,
                "new": 2,
                "old_label": "Floor 1",
                "new_label": "Floor 2",
            },
            log_entry={**_ENTRY, "id": 38, "kind": "location_changed", "maintainers": []},
            url_path="/logs/38/",
        )
    if test:
        snap["test"] = True
    return snap


def _endpoint_disabled(test: bool) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "type": "endpoint.disabled",
        "actor": NOTIFIER,
        "summary": summary("endpoint.disabled"),
        "note": "",
        "endpoint": {"id": 3, "name": "Workshop Discord", "kind": "discord"},
        "failing_since": "2026-11-27T15:04:07+00:00",
        "disable_after_s": 86400,
        "failures": 41,
        "last_error": "HTTP 404: Unknown Webhook",
        "held": 7,
        "url_path": "/admin/notifications/endpoint/3/change/",
    }
    if test:
        snap["test"] = True
    return snap
