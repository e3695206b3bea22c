"""``tiltbob endpoints add|list|show|edit|enable|disable|remove|test|roll-secret``: where
notifications go. URLs are always shown masked; ``--json`` prints what scripts read."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Min, Q, QuerySet

from tiltbob.catalogue import ENDPOINT_KINDS, EVENT_TYPES, field_choices
from tiltbob.endpoint_urls import InvalidEndpointURL, guess_kind, validate_for_kind
from webapp.notifications import operations
from webapp.notifications.forms import hours
from webapp.notifications.models import (
    DISABLE_AFTER,
    MAX_IN_FLIGHT,
    MAX_QUIET_PERIOD,
    DeliveryStatus,
    Endpoint,
)

UNCHANGED = object()
"""An option not given to ``edit``: the endpoint keeps its value."""

URL_HELP = (
    "a Discord or Slack webhook URL, mailto:a@b,c@d, or https://… for JSON; '-' reads it from"
    " standard input, so the token stays out of shell history and the process list"
)


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


def read_url(given: str) -> str:
    if given != "-":
        return given
    url = sys.stdin.readline().strip()
    if not url:
        raise CommandError("--url -: nothing on standard input; pipe the URL in, one line")
    return url


def describe(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as ``show`` and ``list`` give it (never the URL itself)."""
    health = getattr(endpoint, "health", None)  # no row yet: never attempted
    return {
        "id": endpoint.pk,
        "name": endpoint.name,
        "kind": endpoint.kind,
        "url": endpoint.url_hint,
        "enabled": endpoint.enabled,
        "event_types": list(endpoint.event_types),
        "in_flight": endpoint.in_flight,
        "forum": endpoint.forum,
        "quiet_period_minutes": None
        if endpoint.quiet_period is None
        else endpoint.quiet_period.total_seconds() / 60,
        "hidden_fields": list(endpoint.hidden_fields),
        "disable_after_hours": None
        if endpoint.disable_after is None
        else float(hours(endpoint.disable_after)),
        "turned_off_at": _iso(endpoint.disabled_at),
        "turned_off_because": endpoint.disabled_reason or None,
        "pending": getattr(endpoint, "pending_count", 0),
        "oldest_pending_at": _iso(getattr(endpoint, "oldest_pending", None)),
        "last_success_at": _iso(health.last_success_at if health else None),
        "consecutive_failures": health.consecutive_failures if health else 0,
        "last_error": health.last_error if health else None,
        "refused": endpoint.refusal(),
    }


IN_FLIGHT_HELP = (
    f"messages on their way at once, 1 to {MAX_IN_FLIGHT}; 1 (the default) keeps them strictly "
    "in order, above 1 the order is not promised"
)


def _in_flight(text: str) -> int:
    """``--in-flight``: a whole number from 1 to MAX_IN_FLIGHT, or a clear error."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_IN_FLIGHT:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_IN_FLIGHT}, got {text!r}"
        )
    return value


QUIET_HELP = (
    "calm bursts: hold what one person does to one machine until they have been quiet this many"
    f" minutes, then send it as one digest (up to {MAX_QUIET_PERIOD.seconds // 60}; 0: off, the"
    " default); a problem report is never held"
)


def _quiet_period(text: str) -> timedelta | None:
    """``--quiet-period``: minutes (0: off), or a clear error."""
    limit = MAX_QUIET_PERIOD.total_seconds() / 60
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= limit:
        raise argparse.ArgumentTypeError(
            f"must be a number of minutes from 0 (off) to {limit:g}, got {text!r}"
        )
    return timedelta(minutes=value) if value else None


FORUM_HELP = (
    "a Discord webhook of a forum channel: each problem report gets a thread of its own, each "
    "machine another for its other events"
)

HIDE_HELP = (
    "parts of its messages the endpoint leaves out, as event_type:field, comma-separated (e.g."
    " problem_report.created:reporter); 'none' shows everything. Fields: "
    + ", ".join(choice for choice, _ in field_choices())
)


def _hidden_fields(text: str) -> list[str]:
    """``--hide``: known ``type:field`` names, or 'none', or a clear error."""
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    if wanted == ["none"]:
        return []
    known = {choice for choice, _ in field_choices()}
    unknown = [t for t in wanted if t not in known]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown field(s): {', '.join(unknown) or '(none given)'}; use 'none' or"
            f" event_type:field, one of: {', '.join(sorted(known))}"
        )
    return wanted


DISABLE_AFTER_HELP = (
    "turn the endpoint off once it has failed continuously this many hours (any success starts "
    "the clock again); 0: never (default for a new endpoint: 24)"
)


def _disable_after(text: str) -> timedelta | None:
    """``--disable-after``: hours (0: never), or a clear error."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 24 * 365:
        raise argparse.ArgumentTypeError(
            f"must be a number of hours from 0 (never) to {24 * 365}, got {text!r}"
        )
    return timedelta(hours=value) if value else None


def _check_forum(endpoint: Endpoint) -> None:
    if endpoint.forum and endpoint.kind != "discord":
        raise CommandError(
            f"--forum: only a Discord endpoint posts into a forum channel, not {endpoint.kind}"
        )
    if endpoint.quiet_period and endpoint.kind == "json":
        raise CommandError("--quiet-period: a json endpoint gets every event as it happens")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _events_text(event_types: list[str]) -> str:
    return "all" if set(event_types) == set(EVENT_TYPES) else ",".join(event_types) or "-"


class Command(BaseCommand):
    help = "Add, list, show, edit, enable, disable, remove or test notification endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add an endpoint")
        add.add_argument("--name", required=True)
        add.add_argument("--url", required=True, help=URL_HELP)
        add.add_argument("--events", required=True, help="'all' or a comma-separated list")
        add.add_argument("--kind", choices=ENDPOINT_KINDS, help="default: guessed from the URL")
        add.add_argument("--disabled", action="store_true", help="add it switched off")
        add.add_argument("--in-flight", type=_in_flight, default=1, help=IN_FLIGHT_HELP)
        add.add_argument(
            "--disable-after", type=_disable_after, default=DISABLE_AFTER, help=DISABLE_AFTER_HELP
        )
        add.add_argument("--hide", type=_hidden_fields, default=[], help=HIDE_HELP)
        add.add_argument("--forum", action="store_true", help=FORUM_HELP)
        add.add_argument("--quiet-period", type=_quiet_period, default=None, help=QUIET_HELP)
        edit = actions.add_parser("edit", help="change an endpoint")
        edit.add_argument("id", type=int)
        edit.add_argument("--name")
        edit.add_argument("--url", help=URL_HELP)
        edit.add_argument("--events", help="'all' or a comma-separated list")
        edit.add_argument("--kind", choices=ENDPOINT_KINDS)
        edit.add_argument("--in-flight", type=_in_flight, help=IN_FLIGHT_HELP)
        edit.add_argument(
            "--disable-after", type=_disable_after, default=UNCHANGED, help=DISABLE_AFTER_HELP
        )
        edit.add_argument("--hide", type=_hidden_fields, help=HIDE_HELP)
        edit.add_argument("--forum", action=argparse.BooleanOptionalAction, help=FORUM_HELP)
        edit.add_argument("--quiet-period", type=_quiet_period, default=UNCHANGED, help=QUIET_HELP)
        actions.add_parser("list", help="list endpoints, with their health")
        for action in ("show", "enable", "disable", "remove", "roll-secret"):
            sub = actions.add_parser(action, help=f"{action} an endpoint")
            sub.add_argument("id", type=int)
            if action == "enable":
                held = sub.add_mutually_exclusive_group()
                held.add_argument(
                    "--send-held",
                    dest="held",
                    action="store_const",
                    const="send",
                    help="send what it held back while off, in order",
                )
                held.add_argument(
                    "--drop-held",
                    dest="held",
                    action="store_const",
                    const="drop",
                    help="drop what it held back while off (failed, never sent)",
                )
        test = actions.add_parser("test", help="send a test message with sample data")
        test.add_argument("id", type=int)
        test.add_argument("--event", default=EVENT_TYPES[0], choices=EVENT_TYPES)
        test.add_argument(
            "--wait",
            action="store_true",
            help="wait for the outcome; exit 1 unless it was delivered",
        )
        test.add_argument("--timeout", type=float, default=30.0, help="seconds --wait waits")
        for sub in actions.choices.values():
            sub.add_argument("--json", action="store_true", help="print JSON, for scripts")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        self._json = bool(options.get("json"))
        getattr(self, "_" + action.replace("-", "_"))(**options)

    def _say(self, text: str, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2) if self._json else text)

    def _get(self, endpoint_id: int) -> Endpoint:
        endpoint = _with_health().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise CommandError(f"no endpoint {endpoint_id}: see `tiltbob endpoints list`")
        return endpoint

    def _set_url(self, endpoint: Endpoint, url: str, kind: str | None) -> None:
        url = read_url(url)
        chosen = kind or (endpoint.kind if endpoint.pk else "") or guess_kind(url)
        try:
            validate_for_kind(url, chosen, allow_http=_allow_http())
            endpoint.kind = chosen
            endpoint.set_url(url)
        except InvalidEndpointURL as error:
            raise CommandError(f"invalid URL: {error}") from None

    def _add(
        self,
        *,
        name: str,
        url: str,
        events: str,
        kind: str | None,
        disabled: bool,
        in_flight: int,
        disable_after: timedelta | None,
        hide: list[str],
        forum: bool,
        quiet_period: timedelta | None,
        **_: Any,
    ) -> None:
        if Endpoint.objects.filter(name=name).exists():
            raise CommandError(f"an endpoint named {name!r} exists already")
        endpoint = Endpoint(
            name=name,
            enabled=not disabled,
            event_types=event_list(events),
            in_flight=in_flight,
            disable_after=disable_after,
            hidden_fields=hide,
            forum=forum,
            quiet_period=quiet_period,
        )
        self._set_url(endpoint, url, kind)
        _check_forum(endpoint)
        secret = endpoint.new_signing_secret() if endpoint.kind == "json" else None
        endpoint.save()
        text = (
            f"added endpoint {endpoint.pk}: {endpoint.name} ({endpoint.kind}) {endpoint.url_hint}"
        )
        if secret:
            text += (
                f"\nsigning secret: {secret}\n"
                "It is shown only now: give it to the receiver, which checks each request's "
                "webhook-signature with it (Standard Webhooks)."
            )
        self._say(text, {**describe(self._get(endpoint.pk)), "signing_secret": secret})

    def _edit(
        self,
        *,
        id: int,
        name: str | None,
        url: str | None,
        events: str | None,
        kind: str | None,
        in_flight: int | None,
        disable_after: Any,
        hide: list[str] | None,
        forum: bool | None,
        quiet_period: Any,
        **_: Any,
    ) -> None:
        endpoint = self._get(id)
        if quiet_period is not UNCHANGED:
            endpoint.quiet_period = quiet_period
        if forum is not None:
            endpoint.forum = forum
        if hide is not None:
            endpoint.hidden_fields = hide
        if name:
            endpoint.name = name
        if in_flight is not None:
            endpoint.in_flight = in_flight
        if disable_after is not UNCHANGED:
            endpoint.disable_after = disable_after
        if events:
            endpoint.event_types = event_list(events)
        if url:
            self._set_url(endpoint, url, kind)
        elif kind:
            endpoint.kind = kind
        _check_forum(endpoint)
        endpoint.save()
        self._say(f"endpoint {id} ({endpoint.name}) changed", describe(self._get(id)))

    def _list(self, **_: Any) -> None:
        endpoints = list(_with_health().order_by("id"))
        if self._json:
            self._say("", [describe(e) for e in endpoints])
            return
        if not endpoints:
            self.stdout.write("no endpoints yet: add one with `tiltbob endpoints add`")
            return
        rows = [("id", "name", "kind", "enabled", "url", "events", "pending", "failures")]
        for e in endpoints:
            d = describe(e)
            rows.append(
                (
                    str(e.pk),
                    e.name,
                    e.kind,
                    "yes" if e.enabled else ("turned off" if e.disabled_at else "no"),
                    e.url_hint,
                    _events_text(e.event_types),
                    str(d["pending"]),
                    str(d["consecutive_failures"]),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )

    def _show(self, *, id: int, **_: Any) -> None:
        d = describe(self._get(id))
        lines = [f"{key.replace('_', ' ')}: {value}" for key, value in d.items()]
        self._say("\n".join(lines), d)

    def _enable(self, *, id: int, held: str | None, **_: Any) -> None:
        endpoint = self._get(id)
        waiting = operations.held_back(endpoint).count
        if endpoint.enabled or not waiting:
            self._set_enabled(id, True)
            return
        if held is None:
            raise CommandError(
                f"endpoint {id} ({endpoint.name}) held back {waiting} message(s) while it was off:"
                " enable it with --send-held (they go out in order) or --drop-held"
            )
        count = operations.enable(endpoint, held)
        fate = "go out in order" if held == "send" else "dropped"
        self._say(
            f"endpoint {id} ({endpoint.name}) enabled; {count} held-back message(s) {fate}",
            {**describe(self._get(id)), "held_back": count, "held_back_fate": held},
        )

    def _disable(self, *, id: int, **_: Any) -> None:
        self._set_enabled(id, False)

    def _set_enabled(self, endpoint_id: int, enabled: bool) -> None:
        endpoint = self._get(endpoint_id)
        endpoint.enabled = enabled
        endpoint.save(update_fields=["enabled"])
        state = "enabled" if enabled else "disabled"
        self._say(f"endpoint {endpoint.pk} ({endpoint.name}) {state}", describe(endpoint))

    def _roll_secret(self, *, id: int, **_: Any) -> None:
        endpoint = self._get(id)
        if endpoint.kind != "json":
            raise CommandError(f"endpoint {id} is {endpoint.kind}: only json endpoints sign")
        secret = endpoint.new_signing_secret()
        endpoint.save(update_fields=["secret_encrypted"])
        self._say(
            f"new signing secret of endpoint {id}: {secret}\nIt is shown only now.",
            {"id": id, "signing_secret": secret},
        )

    def _test(self, *, id: int, event: str, wait: bool, timeout: float, **_: Any) -> None:
        endpoint = self._get(id)
        event_id = operations.send_test_message(endpoint, event, actor="tiltbob endpoints test")
        if not wait:
            state = (
                "" if endpoint.enabled else " (the endpoint is disabled: it goes out once enabled)"
            )
            self._say(
                f"test message queued as event {event_id} for endpoint {id}{state}",
                {"event_id": event_id, "endpoint_id": id, "state": "queued"},
            )
            return
        deadline = time.monotonic() + timeout
        result = operations.result_of_test_message(endpoint, event_id)
        while not result.final and time.monotonic() < deadline:
            time.sleep(0.2)  # poll interval of a deadline-bounded wait
            result = operations.result_of_test_message(endpoint, event_id)
        data = {"event_id": event_id, "endpoint_id": id, "state": result.state, "text": result.text}
        self._say(result.text, data)
        if result.state != "delivered":
            raise CommandError(f"test message {event_id} was not delivered: {result.text}")

    def _remove(self, *, id: int, **_: Any) -> None:
        endpoint = self._get(id)
        pending = describe(endpoint)["pending"]
        endpoint.delete()
        self._say(
            f"endpoint {id} ({endpoint.name}) removed, with its {pending} pending deliveries",
            {"id": id, "removed": True, "pending_dropped": pending},
        )


def _with_health() -> QuerySet[Endpoint]:
    pending = Q(deliveries__status=DeliveryStatus.PENDING)
    return Endpoint.objects.select_related("health").annotate(
        pending_count=Count("deliveries", filter=pending),
        oldest_pending=Min("deliveries__created_at", filter=pending),
    )


def _allow_http() -> bool:
    from django.conf import settings

    return bool(settings.TILTBOB_ALLOW_HTTP)
