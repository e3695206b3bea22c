"""What a message says, per event type, before any platform's form: a :class:`Card`.

Every string taken from the snapshot is untrusted (visitors type descriptions and names, and a
script may set the actor): the card holds it cleaned of control characters but otherwise as
typed; each platform escapes it its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from listener.messages import Delivery, record_url
from listener.render.text import clean, one_line
from tiltbob.catalogue import SUMMARIES, VISITOR

TEST_NOTICE = "This is a test message from tiltbob: nothing happened to this machine."
ENDPOINT_TEST_NOTICE = "This is a test message from tiltbob: no endpoint was turned off."

STATUS_EMOJI = {"good": "🟢", "broken": "🔴", "fixing": "🛠️", "unknown": "❔"}
STATUS_COLOR = {"good": 0x43A047, "broken": 0xE53935, "fixing": 0xFB8C00, "unknown": 0x9E9E9E}


@dataclass(frozen=True)
class Card:
    event_type: str
    event_id: int
    emoji: str
    heading: str
    """What happened, short: "Problem report", "Report closed", "Status"."""
    machine: str
    """What the event is about: a machine's name (an endpoint's, for ``endpoint.*``)."""
    url: str
    color: int
    timestamp: datetime
    summary: str
    """One line: "Stuck ball", "Status: Good → Broken", "New machine added"."""
    text: str
    """The long text, if any: a description, the work done, a note."""
    text_label: str
    facts: tuple[tuple[str, str], ...]
    """Short labelled details; the attribution ("Reported by", "Closed by") is among them."""
    test: bool

    @property
    def title(self) -> str:
        prefix = "🧪 TEST · " if self.test else ""
        return f"{prefix}{self.emoji} {self.heading}: {self.machine}"


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _when(value: Any) -> str:
    """An ISO timestamp from a snapshot, as a person reads it (UTC)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return "—"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _count(value: Any, noun: str = "") -> str:
    if type(value) is not int:
        return "—"
    if not noun:
        return str(value)
    return f"{value} {noun}{'' if value == 1 else 's'}"


def card(delivery: Delivery, site_url: str) -> Card:
    snap = delivery.snapshot if isinstance(delivery.snapshot, dict) else {}
    kind = delivery.type
    machine = one_line(_get(snap, "machine", "name")) or "(unknown machine)"
    location = one_line(_get(snap, "location", "name")) or "—"
    actor = one_line(snap.get("actor") or delivery.actor) or "—"
    note = clean(snap.get("note") or "").strip()
    problem = one_line(_get(snap, "problem_report", "problem_type_label")) or "—"
    report_id = _get(snap, "problem_report", "id")
    summary = one_line(snap.get("summary"))
    url = record_url(delivery, site_url)

    emoji, heading, color = "🔔", kind, 0x607D8B
    text, text_label = note, "Note"
    facts: list[tuple[str, str]] = []

    if kind == "problem_report.created":
        emoji, heading, color = "🚨", "Problem report", 0xE53935
        summary = problem
        text, text_label = (
            clean(_get(snap, "problem_report", "description") or "").strip(),
            "Description",
        )
        reporter = one_line(_get(snap, "problem_report", "reporter")) or VISITOR
        facts = [("Location", location), ("Problem", problem), ("Reported by", reporter)]
    elif kind in {"problem_report.closed", "problem_report.reopened"}:
        closed = kind.endswith("closed")
        emoji, heading = ("✅", "Report closed") if closed else ("🔁", "Report reopened")
        color = 0x43A047 if closed else 0xFB8C00
        summary = f"{problem} · report #{report_id}" if report_id else problem
        facts = [("Problem", problem), ("Closed by" if closed else "Reopened by", actor)]
    elif kind == "log_entry.created":
        emoji, heading, color = "🔧", "Work logged", 0x1E88E5
        text, text_label = clean(_get(snap, "log_entry", "text") or "").strip(), "Work done"
        names = _get(snap, "log_entry", "maintainers") or []
        maintainers = ", ".join(one_line(n) for n in names if one_line(n)) or actor
        work_date = one_line(_get(snap, "log_entry", "work_date")) or "—"
        summary = f"Work on {work_date}"
        facts = [("Maintainers", maintainers), ("Work date", work_date), ("Logged by", actor)]
    elif kind == "machine.added":
        emoji, heading, color = "🆕", "New machine", 0x8E24AA
        summary = SUMMARIES[kind]
        facts = [("Location", location), ("Added by", actor)]
    elif kind == "machine.status_changed":
        new = one_line(_get(snap, "change", "new"))
        emoji, heading = STATUS_EMOJI.get(new, "⚙️"), "Status"
        color = STATUS_COLOR.get(new, 0x607D8B)
        facts = [("Location", location), ("Changed by", actor)]
    elif kind == "machine.location_changed":
        emoji, heading, color = "🚚", "Moved", 0x00897B
        facts = [("Changed by", actor)]
    elif kind == "endpoint.disabled":
        emoji, heading, color = "⛔", "Endpoint turned off", 0xB71C1C
        machine = one_line(_get(snap, "endpoint", "name")) or "(unknown endpoint)"
        text, text_label = clean(snap.get("last_error") or "").strip(), "Last error"
        facts = [
            ("Failing since", _when(snap.get("failing_since"))),
            ("Failed attempts", _count(snap.get("failures"))),
            ("Held back", _count(snap.get("held"), "message")),
        ]

    test = bool(snap.get("test"))
    if test:
        notice = ENDPOINT_TEST_NOTICE if kind.startswith("endpoint.") else TEST_NOTICE
        text = f"{notice}\n\n{text}".strip()
    return Card(
        event_type=kind,
        event_id=delivery.event_id,
        emoji=emoji,
        heading=heading,
        machine=machine,
        url=url,
        color=color,
        timestamp=delivery.occurred_at,
        summary=summary or heading,
        text=text,
        text_label=text_label,
        facts=tuple(facts),
        test=test,
    )
