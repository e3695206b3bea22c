"""``tiltbob switches``: show the switches, or turn the master or an event type's on or off."""

from __future__ import annotations

from json import dumps
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tiltbob.catalogue import EVENT_TYPES
from webapp.notifications.models import MASTER_SWITCH, Switch

ON_OFF = {"on": True, "off": False}


class Command(BaseCommand):
    help = (
        "Show the notification switches, or set them. A message goes out only when the master "
        "switch, its event type's switch and its endpoint are all on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--master", choices=ON_OFF, help="the master switch")
        parser.add_argument(
            "--event",
            nargs=2,
            action="append",
            metavar=("TYPE", "on|off"),
            default=[],
            help="an event type's switch; may be given several times",
        )
        parser.add_argument("--json", action="store_true", help="print JSON, for scripts")

    def handle(
        self,
        *args: Any,
        master: str | None,
        event: list[list[str]],
        json: bool = False,
        **options: Any,
    ) -> None:
        changes: list[tuple[str, bool]] = []
        if master:
            changes.append((MASTER_SWITCH, ON_OFF[master]))
        for event_type, state in event:
            if event_type not in EVENT_TYPES:
                raise CommandError(
                    f"unknown event type {event_type!r}; one of: {', '.join(EVENT_TYPES)}"
                )
            if state not in ON_OFF:
                raise CommandError(f"{event_type}: say on or off, not {state!r}")
            changes.append((event_type, ON_OFF[state]))
        for name, enabled in changes:
            Switch.turn(name, enabled)
        states = Switch.states()
        if json:
            self.stdout.write(dumps(states, indent=2))
            return
        for name, enabled in states.items():
            self.stdout.write(f"{name:<26} {'on' if enabled else 'off'}")
