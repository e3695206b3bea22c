"""The catalogue of names tiltbob's Python shares: event types and their labels, each event's
summary, who reports when a visitor gives no name, the NOTIFY channels, the endpoint kinds.

The SQL side defines its own once, in ``tiltbob_catalogue(key)`` (sql/schema.sql);
tests/test_catalogue.py holds the two equal.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "problem_report.created",
    "problem_report.closed",
    "problem_report.reopened",
    "log_entry.created",
    "machine.added",
    "machine.status_changed",
    "machine.location_changed",
    "endpoint.disabled",
)

EVENT_LABELS: dict[str, str] = {
    "problem_report.created": "Problem report created",
    "problem_report.closed": "Problem report closed",
    "problem_report.reopened": "Problem report reopened",
    "log_entry.created": "Work logged",
    "machine.added": "Machine added",
    "machine.status_changed": "Machine status changed",
    "machine.location_changed": "Machine location changed",
    "endpoint.disabled": "Endpoint turned off",
}

EVENT_DESCRIPTIONS: dict[str, str] = {
    "problem_report.created": "A visitor or a maintainer reports a problem with a machine.",
    "problem_report.closed": "A problem report is closed (fixed, or nothing to fix).",
    "problem_report.reopened": "A closed problem report is opened again.",
    "log_entry.created": "A maintainer logs work done on a machine.",
    "machine.added": "A new machine is added to the collection.",
    "machine.status_changed": "A machine's status changes, e.g. from Good to Broken.",
    "machine.location_changed": "A machine is moved to another location.",
    "endpoint.disabled": (
        "An endpoint that kept failing (24 hours by default) is turned off by the notifier;"
        " what it held back waits."
    ),
}
"""When each event fires, in a sentence (the switches page)."""

SUMMARIES: dict[str, str] = {
    "problem_report.created": "New problem report: %s",
    "problem_report.closed": "Problem report closed",
    "problem_report.reopened": "Problem report reopened",
    "log_entry.created": "Work logged",
    "machine.added": "New machine added",
    "machine.status_changed": "Status: %s → %s",
    "machine.location_changed": "Location: %s → %s",
    "endpoint.disabled": "Turned off after failing continuously",
}
"""An event's one-line summary; ``%s`` stand for the problem type, or the old and new labels."""

FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "problem_report.created": (
        ("location", "Location"),
        ("reporter", "Reported by"),
        ("description", "Description"),
    ),
    "problem_report.closed": (("actor", "Closed by"), ("note", "Note")),
    "problem_report.reopened": (("actor", "Reopened by"), ("note", "Note")),
    "log_entry.created": (
        ("maintainers", "Maintainers"),
        ("work_date", "Work date"),
        ("actor", "Logged by"),
        ("text", "Work done"),
    ),
    "machine.added": (("location", "Location"), ("actor", "Added by"), ("note", "Note")),
    "machine.status_changed": (("location", "Location"), ("actor", "Changed by"), ("note", "Note")),
    "machine.location_changed": (("actor", "Changed by"), ("note", "Note")),
    "endpoint.disabled": (
        ("failing_since", "Failing since"),
        ("failures", "Failed attempts"),
        ("held", "Held back"),
        ("last_error", "Last error"),
    ),
}
"""Per event type, the parts of its message an endpoint may leave out (``type:key`` in
``notification_endpoints.hidden_fields``), with their labels. The machine, the summary (a
report's problem type, a status change) and the link are always shown."""


def field_choices() -> list[tuple[str, str]]:
    """Every ``type:key`` an endpoint may hide, with a label that names the event type."""
    return [
        (f"{event_type}:{key}", f"{EVENT_LABELS[event_type]}: {label}")
        for event_type in EVENT_TYPES
        for key, label in FIELDS[event_type]
    ]


VISITOR = "Visitor"
"""Who reported, when a visitor gave no name (and the actor of the public form's writes)."""

NOTIFIER = "tiltbob"
"""Who acts when the notifier itself does something (turns an endpoint off)."""

ENDPOINT_KINDS: tuple[str, ...] = ("discord", "slack", "email", "json")

# NOTIFY channels. The payload says only "look again" (on deliveries: whose fan-out it was).
EVENTS_CHANNEL = "tiltbob"
CONFIG_CHANNEL = "tiltbob_config"
DELIVERIES_CHANNEL = "tiltbob_deliveries"


def summary(event_type: str, *labels: str) -> str:
    """The summary of an event of ``event_type``, with its labels filled in."""
    template = SUMMARIES[event_type]
    return template % labels[: template.count("%s")]


SQL_KEYS: dict[str, str] = {
    "channel.events": EVENTS_CHANNEL,
    "channel.config": CONFIG_CHANNEL,
    "channel.deliveries": DELIVERIES_CHANNEL,
    "visitor": VISITOR,
    "notifier": NOTIFIER,
    **{f"summary.{event_type}": text for event_type, text in SUMMARIES.items()},
}
"""What ``tiltbob_catalogue(key)`` must answer for each key the two sides share."""
