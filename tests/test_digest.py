"""Calm bursts: an endpoint's quiet period holds what one person does to one machine and sends
it as one digest, on the listener's clock (moved on by the test, not waited for)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command

from listener import digest
from listener.messages import Delivery
from listener.render import RenderContext
from listener.render.digest import render_units
from tests.clocked_listener import FileClock
from tests.conftest import Hook, delivery_statuses
from tests.processes import ListenerProcess
from tests.receiver import Receiver
from tests.rendering import NOW, SITE, check_discord, check_slack, delivery, endpoint
from tests.test_plans import add_endpoint
from tests.waiting import wait_until
from tiltbob.samples import snapshot
from webapp.maintenance.models import Machine
from webapp.notifications.models import Endpoint

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
QUIET = timedelta(minutes=2)


def event(
    n: int, event_type: str, *, actor: str = "Ana", machine: int = 1, at: int = 0
) -> Delivery:
    """Delivery ``n`` of an event ``at`` seconds after T0."""
    snap = snapshot(event_type)
    if "machine" in snap:
        snap["machine"] = {**snap["machine"], "id": machine}
    d = delivery(event_type, snap, event_id=n)
    moment = T0 + timedelta(seconds=at)
    return Delivery(d.id, n, 0, moment, moment, event_type, moment, actor, snap)


def ids(units: list[list[Delivery]]) -> list[list[int]]:
    return [[d.event_id for d in unit] for unit in units]


def test_a_burst_is_held_while_its_author_keeps_at_it() -> None:
    burst = [
        event(1, "machine.added", at=0),
        event(2, "machine.status_changed", at=30),
        event(3, "log_entry.created", at=90),
    ]
    held = digest.plan(burst, QUIET, T0 + timedelta(seconds=200))
    assert held.units == [] and [d.event_id for d in held.held] == [1, 2, 3]
    assert held.wake_at == T0 + timedelta(seconds=90) + QUIET, "quiet since the last one"
    ready = digest.plan(burst, QUIET, T0 + timedelta(seconds=210))
    assert ids(ready.units) == [[1, 2, 3]] and ready.held == []


def test_a_burst_goes_out_at_the_latest_three_quiet_periods_after_it_began() -> None:
    busy = [event(n, "machine.status_changed", at=n * 60) for n in range(1, 8)]
    # Never quiet for two minutes, yet due three quiet periods (6 minutes) after the first.
    assert digest.plan(busy, QUIET, T0 + timedelta(seconds=60 + 359)).units == []
    assert ids(digest.plan(busy, QUIET, T0 + timedelta(seconds=60 + 360)).units) == [
        [1, 2, 3, 4, 5, 6, 7]
    ]


def test_a_problem_report_is_never_held_and_bursts_are_per_person_and_machine() -> None:
    queue = [
        event(1, "machine.status_changed", actor="Ana", at=0),
        event(2, "problem_report.created", actor="Visitor", at=10),
        event(3, "machine.status_changed", actor="Ben", at=20),
        event(4, "machine.location_changed", actor="Ana", machine=2, at=30),
        event(5, "log_entry.created", actor="Ana", at=40),
    ]
    early = digest.plan(queue, QUIET, T0 + timedelta(seconds=50))
    assert ids(early.units) == [[2]]
    later = digest.plan(queue, QUIET, T0 + timedelta(minutes=5))
    assert ids(later.units) == [[1, 5], [2], [3], [4]], "in queue order, by first event"


def test_a_test_message_and_an_alert_are_never_held() -> None:
    test = replace(
        event(1, "machine.status_changed"),
        snapshot={**snapshot("machine.status_changed", test=True)},
    )
    alert = event(2, "endpoint.disabled")
    assert ids(digest.plan([test, alert], QUIET, T0).units) == [[1], [2]]


@pytest.mark.parametrize("kind", ["discord", "slack", "email"])
def test_a_digest_has_a_line_per_event_with_its_link(kind: str) -> None:
    burst = [
        event(1, "machine.added", at=0),
        event(2, "machine.status_changed", at=30),
        event(3, "log_entry.created", at=60),
    ]
    context = RenderContext(SITE, "tiltbob@museum.example.org", NOW)
    (message,) = render_units(endpoint(kind), [burst], context)
    assert [d.event_id for d in message.deliveries] == [1, 2, 3]
    if kind == "email":
        assert message.mail is not None
        text = message.mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    else:
        body = json.loads(message.body)
        (check_discord if kind == "discord" else check_slack)(body)
        text = json.dumps(body, ensure_ascii=False)
    assert "3 updates" in text and "Medieval Madness" in text and "Ana" in text
    for path in ("/logs/36/", "/logs/37/", "/logs/34/"):
        assert f"{SITE}{path}" in text


# -- end to end ------------------------------------------------------------------------------


def act(db_url: str, actor: str, *statements: tuple[str, list[Any]]) -> None:
    """A maintainer's change, one transaction, with who did it."""
    with psycopg.connect(db_url) as conn:
        conn.execute("SELECT set_config('tiltbob.actor', %s, true)", [actor])
        for sql, params in statements:
            conn.execute(sql, params)


def test_the_listener_sends_a_maintainers_burst_as_one_digest_and_a_report_at_once(
    make_hook: Callable[..., Hook],
    receiver: Receiver,
    start_listener: Callable[..., ListenerProcess],
    db_url: str,
    machine: Machine,
    tmp_path: Path,
) -> None:
    hook = make_hook("crew", "all", kind="slack")
    Endpoint.objects.filter(pk=hook.endpoint.pk).update(quiet_period=QUIET)
    clock = FileClock(tmp_path / "clock")
    first = start_listener(clock=clock.path)

    update = "UPDATE machines SET status = %s WHERE id = %s"
    act(db_url, "Ana", (update, ["broken", machine.pk]))
    act(db_url, "Ana", (update, ["fixing", machine.pk]))
    log = "INSERT INTO log_entries (machine_id, text) VALUES (%s, 'new coil')"
    act(db_url, "Ana", (log, [machine.pk]))
    # A visitor's report, meanwhile, goes out at once, ahead of the held bursts (Ana's, and the
    # machine fixture's own machine.added).
    report = "INSERT INTO problem_reports (machine_id, problem_type) VALUES (%s, 'stuck_ball')"
    act(db_url, "Visitor", (report, [machine.pk]))
    (alone,) = wait_until(lambda: receiver.at(hook.path), what="the report")
    assert "Problem report" in alone.body.decode()

    # A restart while the bursts are held loses nothing and sends nothing twice.
    first.kill(signal.SIGTERM)
    start_listener(clock=clock.path)
    clock.move_on(timedelta(minutes=3))
    arrivals = wait_until(
        lambda: receiver.at(hook.path) if len(receiver.at(hook.path)) >= 3 else [],
        what="the held bursts",
    )
    added, summary = arrivals[1:3]
    assert "New machine" in added.body.decode(), "a burst of one goes out as itself"
    body = summary.json
    check_slack(body)
    text = json.dumps(body, ensure_ascii=False)
    assert "3 updates" in text and "Ana" in text
    assert text.count("/logs/") >= 3
    assert "pending" not in delivery_statuses(db_url, hook.endpoint.pk)
    clock.move_on(timedelta(minutes=30))
    act(db_url, "Visitor", (report, [machine.pk]))
    wait_until(lambda: len(receiver.at(hook.path)) == 4, what="the next report")
    assert "Problem report" in receiver.at(hook.path)[3].body.decode(), "the digest went once"


def test_the_cli_sets_a_quiet_period_in_minutes(raw: psycopg.Connection[Any]) -> None:
    endpoint_id = add_endpoint(raw, "calm")
    raw.commit()
    call_command("endpoints", "edit", str(endpoint_id), "--kind", "discord", "--quiet-period", "2")
    assert Endpoint.objects.get(pk=endpoint_id).quiet_period == timedelta(minutes=2)
    with pytest.raises(CommandError, match=r"from 0 \(off\) to 15"):
        call_command("endpoints", "edit", str(endpoint_id), "--quiet-period", "20")
    with pytest.raises(CommandError, match="json endpoint gets every event"):
        call_command("endpoints", "edit", str(endpoint_id), "--kind", "json")
    call_command("endpoints", "edit", str(endpoint_id), "--quiet-period", "0")
    assert Endpoint.objects.get(pk=endpoint_id).quiet_period is None
