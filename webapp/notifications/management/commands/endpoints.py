"""``tiltbob endpoints add|list|enable|disable|remove``: where notifications go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tiltbob.catalogue import ENDPOINT_KINDS, EVENT_TYPES
from tiltbob.endpoint_urls import InvalidEndpointURL
from webapp.notifications.models import Endpoint
from webapp.notifications.operations import send_test_message


def event_list(text: str) -> list[str]:
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    if wanted == ["all"]:
        return list(EVENT_TYPES)
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown or not wanted:
        raise CommandError(
            f"unknown event type(s): {', '.join(unknown) or '(none given)'}; "
            f"use 'all' or a comma-separated list of: {', '.join(EVENT_TYPES)}"
        )
    return wanted


class Command(BaseCommand):
    help = "Add, list, enable, disable or remove notification endpoints (URLs are shown masked)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add an endpoint")
        add.add_argument("--name", required=True)
        add.add_argument("--url", required=True, help="https://… webhook URL, or mailto:a@b,c@d")
        add.add_argument("--events", required=True, help="'all' or a comma-separated list")
        add.add_argument("--kind", choices=ENDPOINT_KINDS, help="default: guessed from the URL")
        add.add_argument("--disabled", action="store_true", help="add it switched off")
        actions.add_parser("list", help="list endpoints")
        for action in ("enable", "disable", "remove"):
            sub = actions.add_parser(action, help=f"{action} an endpoint")
            sub.add_argument("id", type=int)
        test = actions.add_parser("test", help="send a test message with sample data")
        test.add_argument("id", type=int)
        test.add_argument("--event", default=EVENT_TYPES[0], choices=EVENT_TYPES)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _add(
        self, *, name: str, url: str, events: str, kind: str | None, disabled: bool, **_: Any
    ) -> None:
        if Endpoint.objects.filter(name=name).exists():
            raise CommandError(f"an endpoint named {name!r} exists already")
        endpoint = Endpoint(
            name=name, kind=kind or "", enabled=not disabled, event_types=event_list(events)
        )
        try:
            endpoint.set_url(url)
        except InvalidEndpointURL as error:
            raise CommandError(f"invalid URL: {error}") from None
        secret = endpoint.new_signing_secret() if endpoint.kind == "json" else None
        endpoint.save()
        self.stdout.write(
            f"added endpoint {endpoint.pk}: {endpoint.name} ({endpoint.kind}) {endpoint.url_hint}"
        )
        if secret:
            self.stdout.write(
                f"signing secret: {secret}\n"
                "It is shown only now: give it to the receiver, which checks each request's "
                "webhook-signature with it (Standard Webhooks)."
            )

    def _list(self, **_: Any) -> None:
        rows = [("id", "name", "kind", "enabled", "url", "events")]
        for e in Endpoint.objects.order_by("id"):
            events = (
                "all" if set(e.event_types) == set(EVENT_TYPES) else ",".join(e.event_types) or "-"
            )
            rows.append(
                (str(e.pk), e.name, e.kind, "yes" if e.enabled else "no", e.url_hint, events)
            )
        if len(rows) == 1:
            self.stdout.write("no endpoints yet: add one with `tiltbob endpoints add`")
            return
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )

    def _get(self, endpoint_id: int) -> Endpoint:
        try:
            return Endpoint.objects.get(pk=endpoint_id)
        except Endpoint.DoesNotExist:
            raise CommandError(f"no endpoint {endpoint_id}: see `tiltbob endpoints list`") from None

    def _enable(self, *, id: int, **_: Any) -> None:
        self._set_enabled(id, True)

    def _disable(self, *, id: int, **_: Any) -> None:
        self._set_enabled(id, False)

    def _set_enabled(self, endpoint_id: int, enabled: bool) -> None:
        endpoint = self._get(endpoint_id)
        endpoint.enabled = enabled
        endpoint.save(update_fields=["enabled"])
        self.stdout.write(
            f"endpoint {endpoint.pk} ({endpoint.name}) {'enabled' if enabled else 'disabled'}"
        )

    def _test(self, *, id: int, event: str, **_: Any) -> None:
        endpoint = self._get(id)
        event_id = send_test_message(endpoint, event, actor="tiltbob endpoints test")
        state = "" if endpoint.enabled else " (the endpoint is disabled: it goes out once enabled)"
        self.stdout.write(f"test message queued as event {event_id} for endpoint {id}{state}")

    def _remove(self, *, id: int, **_: Any) -> None:
        endpoint = self._get(id)
        endpoint.delete()
        self.stdout.write(f"endpoint {id} ({endpoint.name}) removed, with its pending deliveries")
