"""The museum's clock (TILTBOB_TIME_ZONE): the dates the database fills in, the times pages and
messages show, and a real listener rendering in it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection
from django.test import Client, override_settings

from listener.render import RenderContext, render
from tests.conftest import Hook
from tests.processes import ListenerProcess
from tests.receiver import Receiver
from tests.rendering import NOW, SITE, delivery, endpoint
from tests.test_auto_disable import T0, record
from tests.test_plans import add_endpoint
from tests.waiting import wait_until
from tiltbob.environment import ConfigurationError, load
from tiltbob.samples import snapshot
from tiltbob.sqlfiles import query
from webapp.maintenance.models import Machine, ProblemReport
from webapp.notifications.apps import record_time_zone

# A day apart: at any moment at least one of the two is not on UTC's date.
FAR_EAST, FAR_WEST = "Pacific/Kiritimati", "Pacific/Pago_Pago"


def test_the_time_zone_is_an_iana_name_and_utc_by_default() -> None:
    assert load({}).time_zone == "UTC"
    assert load({"TILTBOB_TIME_ZONE": "Europe/Paris"}).time_zone == "Europe/Paris"
    with pytest.raises(ConfigurationError, match="TILTBOB_TIME_ZONE must be an IANA time zone"):
        load({"TILTBOB_TIME_ZONE": "CEST+2"})


@pytest.fixture
def museum_zone(transactional_db: None) -> Iterator[Callable[[str], None]]:
    """Set the museum's zone as `tiltbob migrate` records it; UTC again afterwards."""

    def set_zone(name: str) -> None:
        with override_settings(TIME_ZONE=name):
            record_time_zone()

    yield set_zone
    record_time_zone()


def not_on_utcs_date() -> str:
    today = datetime.now(UTC).date()
    return next(z for z in (FAR_EAST, FAR_WEST) if datetime.now(ZoneInfo(z)).date() != today)


def dates_in(zone: str) -> set[date]:
    """The date in ``zone`` now and a moment later: a test may straddle midnight there."""
    now = datetime.now(ZoneInfo(zone))
    return {now.date(), (now + timedelta(seconds=30)).date()}


def test_migrate_records_the_time_zone(museum_zone: Callable[[str], None]) -> None:
    museum_zone("Europe/Paris")
    with connection.cursor() as cursor:
        cursor.execute("SELECT time_zone FROM tiltbob_museum")
        assert cursor.fetchall() == [("Europe/Paris",)]


def test_a_work_date_the_database_fills_in_is_the_museums(
    museum_zone: Callable[[str], None], raw: psycopg.Connection[Any], machine: Machine
) -> None:
    zone = not_on_utcs_date()
    museum_zone(zone)
    expected = dates_in(zone)
    assert datetime.now(UTC).date() not in expected or len(expected) > 1
    row = raw.execute(
        "INSERT INTO log_entries (machine_id, kind, text) VALUES (%s, 'manual', 'oiled')"
        " RETURNING work_date",
        [machine.pk],
    ).fetchone()
    assert row is not None and row[0] in expected
    # An automatic log entry (a status change in psql) too.
    raw.execute("UPDATE machines SET status = 'broken' WHERE id = %s", [machine.pk])
    row = raw.execute(
        "SELECT work_date FROM log_entries WHERE machine_id = %s AND kind = 'status_changed'",
        [machine.pk],
    ).fetchone()
    assert row is not None and row[0] in expected


def test_the_reason_an_endpoint_was_turned_off_gives_the_museums_time(
    museum_zone: Callable[[str], None], raw: psycopg.Connection[Any]
) -> None:
    museum_zone("Europe/Paris")
    endpoint_id = add_endpoint(raw, "far")
    record(raw, endpoint_id, T0, success=False, failures=1)
    raw.execute(
        query("disable_failing_endpoint"),
        {"endpoint_id": endpoint_id, "at": T0 + timedelta(days=2)},
    )
    row = raw.execute(
        "SELECT disabled_reason FROM notification_endpoints WHERE id = %s", [endpoint_id]
    ).fetchone()
    assert row == ("failing since 2026-11-28 16:00 Europe/Paris: HTTP 500",)


def test_pages_show_the_museums_times(ana_client: Client, machine: Machine) -> None:
    report = ProblemReport.objects.create(machine=machine, problem_type="stuck_ball")
    ProblemReport.objects.filter(pk=report.pk).update(
        created_at=datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    )
    with override_settings(TIME_ZONE=FAR_EAST):
        page = ana_client.get(f"/problem-reports/{report.pk}/").content.decode()
    assert "2026-11-29 13:30" in page and "2026-11-28 23:30" not in page


def test_messages_show_the_museums_times() -> None:
    paris = ZoneInfo("Europe/Paris")
    context = RenderContext(SITE, "tiltbob@museum.example.org", NOW, paris)
    alert = delivery("endpoint.disabled", snapshot("endpoint.disabled"))
    (discord,) = render(endpoint("discord"), [alert], context)
    fields = {f["name"]: f["value"] for f in json.loads(discord.body)["embeds"][0]["fields"]}
    assert fields["Failing since"] == "2026-11-27 16:04 CET"
    stamp = datetime.fromisoformat(json.loads(discord.body)["embeds"][0]["timestamp"])
    assert stamp == alert.occurred_at and stamp.utcoffset() == timedelta(hours=1)
    (mail,) = render(endpoint("email"), [alert], context)
    assert mail.mail is not None
    sent = parsedate_to_datetime(str(mail.mail["Date"]))
    assert sent == NOW and sent.utcoffset() == timedelta(hours=1)
    (slack,) = render(endpoint("slack"), [alert], context)
    assert "|2026-11-28T16:04:07+01:00>" in slack.body.decode()


def test_a_listener_renders_in_the_museums_time(
    make_hook: Callable[..., Hook],
    receiver: Receiver,
    start_listener: Callable[..., ListenerProcess],
    machine: Machine,
) -> None:
    hook = make_hook("crew", ["problem_report.created"], kind="slack")
    start_listener(env={"TILTBOB_TIME_ZONE": FAR_EAST})
    report = ProblemReport.objects.create(machine=machine, problem_type="stuck_ball")
    (arrival,) = wait_until(lambda: receiver.at(hook.path), what="the report's message")
    local = report.created_at.astimezone(ZoneInfo(FAR_EAST))
    fallback = arrival.json["blocks"][-1]["elements"][0]["text"]
    assert local.utcoffset() == timedelta(hours=14)
    assert f"|{local.isoformat()}>" in fallback, fallback
