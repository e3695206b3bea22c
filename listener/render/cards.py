"""What a message says, per event type, before any platform's form: a :class:`Card`.

Every string taken from the snapshot is untrusted (visitors type descriptions and names, and a
script may set the actor): the card holds it cleaned of control characters but otherwise as
typed; each platform escapes it its own way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
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


def _when(value: Any, zone: tzinfo) -> str:
    """An ISO timestamp from a snapshot, as a person at the museum reads it."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(zone)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def _count(value: Any, noun: str = "") -> str:
    if type(value) is not int:
        return "—"
    if not noun:
        return str(value)
    return f"{value} {noun}{'' if value == 1 else 's'}"


@dataclass(frozen=True)
class Presentation:
    """How one endpoint's cards look: the fields it leaves out, the museum's clock."""

    hidden: Collection[str] = frozenset()
    """``type:key`` fields (tiltbob.catalogue.FIELDS)."""
    zone: tzinfo = UTC
    """Times people read are shown in it (TILTBOB_TIME_ZONE)."""


PLAIN = Presentation()
"""Every field, times in UTC."""


def card(delivery: Delivery, site_url: str, look: Presentation = PLAIN) -> Card:
    """The card of one delivery, as ``look`` says."""
    hidden = look.hidden
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
    # The long text and the facts, each under the key an endpoint may hide it by.
    text_key, text, text_label = "note", note, "Note"
    facts: list[tuple[str, str, str]] = []

    if kind == "problem_report.created":
        emoji, heading, color = "🚨", "Problem report", 0xE53935
        summary = problem
        text_key, text, text_label = (
            "description",
            clean(_get(snap, "problem_report", "description") or "").strip(),
            "Description",
        )
        reporter = one_line(_get(snap, "problem_report", "reporter")) or VISITOR
        facts = [
            ("location", "Location", location),
            ("", "Problem", problem),
            ("reporter", "Reported by", reporter),
        ]
    elif kind in {"problem_report.closed", "problem_report.reopened"}:
        closed = kind.endswith("closed")
        emoji, heading = ("✅", "Report closed") if closed else ("🔁", "Report reopened")
        color = 0x43A047 if closed else 0xFB8C00
        summary = f"{problem} · report #{report_id}" if report_id else problem
        facts = [
            ("", "Problem", problem),
            ("actor", "Closed by" if closed else "Reopened by", actor),
        ]
    elif kind == "log_entry.created":
        emoji, heading, color = "🔧", "Work logged", 0x1E88E5
        text_key, text, text_label = (
            "text",
            clean(_get(snap, "log_entry", "text") or "").strip(),
            "Work done",
        )
        names = _get(snap, "log_entry", "maintainers") or []
        maintainers = ", ".join(one_line(n) for n in names if one_line(n)) or actor
        work_date = one_line(_get(snap, "log_entry", "work_date")) or "—"
        summary = f"Work on {work_date}"
        facts = [
            ("maintainers", "Maintainers", maintainers),
            ("work_date", "Work date", work_date),
            ("actor", "Logged by", actor),
        ]
    elif kind == "machine.added":
        emoji, heading, color = "🆕", "New machine", 0x8E24AA
        summary = SUMMARIES[kind]
        facts = [("location", "Location", location), ("actor", "Added by", actor)]
    elif kind == "machine.status_changed":
        new = one_line(_get(snap, "change", "new"))
        emoji, heading = STATUS_EMOJI.get(new, "⚙️"), "Status"
        color = STATUS_COLOR.get(new, 0x607D8B)
        facts = [("location", "Location", location), ("actor", "Changed by", actor)]
    elif kind == "machine.location_changed":
        emoji, heading, color = "🚚", "Moved", 0x00897B
        facts = [("actor", "Changed by", actor)]
    elif kind == "endpoint.disabled":
        emoji, heading, color = "⛔", "Endpoint turned off", 0xB71C1C
        machine = one_line(_get(snap, "endpoint", "name")) or "(unknown endpoint)"
        text_key, text, text_label = (
            "last_error",
            clean(snap.get("last_error") or "").strip(),
            "Last error",
        )
        facts = [
            ("failing_since", "Failing since", _when(snap.get("failing_since"), look.zone)),
            ("failures", "Failed attempts", _count(snap.get("failures"))),
            ("held", "Held back", _count(snap.get("held"), "message")),
        ]

    if f"{kind}:{text_key}" in hidden:
        text = ""
    shown = tuple((label, value) for key, label, value in facts if f"{kind}:{key}" not in hidden)
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
        timestamp=delivery.occurred_at.astimezone(look.zone),
        summary=summary or heading,
        text=text,
        text_label=text_label,
        facts=shown,
        test=test,
    )
