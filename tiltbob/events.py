"""The event types (the public contract in DESIGN.md), for the web app, the CLI and the listener."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "problem_report.created",
    "problem_report.closed",
    "problem_report.reopened",
    "log_entry.created",
    "machine.added",
    "machine.status_changed",
    "machine.location_changed",
)

EVENT_LABELS: dict[str, str] = {
    "problem_report.created": "Problem report created",
    "problem_report.closed": "Problem report closed",
    "problem_report.reopened": "Problem report reopened",
    "log_entry.created": "Work logged",
    "machine.added": "Machine added",
    "machine.status_changed": "Machine status changed",
    "machine.location_changed": "Machine location changed",
}

ENDPOINT_KINDS: tuple[str, ...] = ("discord", "slack", "email", "json")

# NOTIFY channels. Payloads are always empty: a notification only says "look again".
EVENTS_CHANNEL = "tiltbob"
CONFIG_CHANNEL = "tiltbob_config"
DELIVERIES_CHANNEL = "tiltbob_deliveries"
