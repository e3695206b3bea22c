"""Endpoints that keep failing: the run of failures, the listener turning the endpoint off on
its clock (moved on by the test, not waited for), the alert, and enabling it again with what
it held back sent in order or dropped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command

from tests.clocked_listener import FileClock
from tests.conftest import Hook, insert_reports
from tests.processes import ListenerProcess
from tests.receiver import Receiver, Reply
from tests.test_plans import add_endpoint
from tests.waiting import wait_until
from tiltbob.sqlfiles import query
from webapp.maintenance.models import Machine
from webapp.notifications import operations
from webapp.notifications.models import Delivery, DeliveryStatus, Endpoint

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def record(
    conn: psycopg.Connection[Any], endpoint_id: int, at: datetime, *, success: bool, failures: int
) -> datetime | None:
    """The health part of an acknowledgement, as the worker writes it: the run's start back."""
    row = conn.execute(
        query("record_outcomes"),
        {
            "ids": [],
            "statuses": [],
            "next_attempt_ats": [],
            "status_codes": [],
            "errors": [],
            "durations": [],
            "endpoint_id": endpoint_id,
            "any_success": success,
            "any_failure": failures > 0,
            "trailing_failures": failures,
            "last_error": "HTTP 500" if failures else None,
            "at": at,
        },
    ).fetchone()
    assert row is not None
    failing_since: datetime | None = row[0]
    return failing_since


def pending_delivery(conn: psycopg.Connection[Any], endpoint_id: int) -> int:
    row = conn.execute(
        "WITH e AS (INSERT INTO notification_events (type, actor, snapshot, fanned_out_at)"
        " VALUES ('problem_report.created', 'test', '{}', now()) RETURNING id)"
        " INSERT INTO notification_deliveries (event_id, endpoint_id)"
        " SELECT id, %s FROM e RETURNING id",
        [endpoint_id],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_run_of_failures_starts_at_its_first_failure_and_ends_at_a_success(
    raw: psycopg.Connection[Any],
) -> None:
    endpoint = add_endpoint(raw, "flaky")
    hour = timedelta(hours=1)
    assert record(raw, endpoint, T0, success=False, failures=2) == T0
    assert record(raw, endpoint, T0 + hour, success=False, failures=1) == T0
    assert record(raw, endpoint, T0 + 2 * hour, success=True, failures=0) is None
    # A batch whose last attempts failed after a success: a new run, from that batch.
    assert record(raw, endpoint, T0 + 3 * hour, success=True, failures=1) == T0 + 3 * hour
    assert record(raw, endpoint, T0 + 4 * hour, success=False, failures=1) == T0 + 3 * hour


def test_an_endpoint_failing_long_enough_is_turned_off_with_its_reason_and_an_event(
    raw: psycopg.Connection[Any],
) -> None:
    endpoint = add_endpoint(raw, "dead")  # the default: 24 hours
    delivery = pending_delivery(raw, endpoint)
    record(raw, endpoint, T0, success=False, failures=1)

    def disable(at: datetime) -> int | None:
        row = raw.execute(
            query("disable_failing_endpoint"), {"endpoint_id": endpoint, "at": at}
        ).fetchone()
        assert row is not None
        return None if row[0] is None else int(row[0])

    assert disable(T0 + timedelta(hours=23, minutes=59)) is None
    event = disable(T0 + timedelta(hours=24))
    assert event is not None
    assert disable(T0 + timedelta(hours=25)) is None, "turned off once, announced once"

    row = raw.execute(
        "SELECT enabled, disabled_at, disabled_reason FROM notification_endpoints WHERE id = %s",
        [endpoint],
    ).fetchone()
    assert row is not None
    assert row[0] is False and row[1] == T0 + timedelta(hours=24)
    assert row[2] == "failing since 2026-11-28 15:00 UTC: HTTP 500"
    found = raw.execute(
        "SELECT type, actor, snapshot, fanned_out_at FROM notification_events WHERE id = %s",
        [event],
    ).fetchone()
    assert found is not None
    event_type, actor, snapshot, fanned_out_at = found
    assert (event_type, actor, fanned_out_at) == ("endpoint.disabled", "tiltbob", None)
    assert snapshot["endpoint"] == {"id": endpoint, "name": "dead", "kind": "json"}
    assert snapshot["held"] == 1 and snapshot["failures"] == 1
    assert snapshot["last_error"] == "HTTP 500"
    assert snapshot["disable_after_s"] == 86400
    assert datetime.fromisoformat(snapshot["failing_since"]) == T0
    status = raw.execute(
        "SELECT status FROM notification_deliveries WHERE id = %s", [delivery]
    ).fetchone()
    assert status == ("pending",), "what it held back is kept"

    # Enabled again, here as a psql session would: no reason left, and a fresh clock.
    raw.execute("UPDATE notification_endpoints SET enabled = true WHERE id = %s", [endpoint])
    row = raw.execute(
        "SELECT e.disabled_at, e.disabled_reason, h.failing_since FROM notification_endpoints e"
        " JOIN notification_endpoint_health h ON h.endpoint_id = e.id WHERE e.id = %s",
        [endpoint],
    ).fetchone()
    assert row == (None, "", None)
    assert disable(T0 + timedelta(hours=48)) is None


def test_an_endpoint_set_to_never_is_never_turned_off(raw: psycopg.Connection[Any]) -> None:
    endpoint = add_endpoint(raw, "patient")
    raw.execute("UPDATE notification_endpoints SET disable_after = NULL WHERE id = %s", [endpoint])
    record(raw, endpoint, T0, success=False, failures=1)
    row = raw.execute(
        query("disable_failing_endpoint"),
        {"endpoint_id": endpoint, "at": T0 + timedelta(days=365)},
    ).fetchone()
    assert row == (None,)


def test_the_listener_turns_off_an_endpoint_that_keeps_failing_and_it_is_enabled_again(
    make_hook: Callable[..., Hook],
    receiver: Receiver,
    start_listener: Callable[..., ListenerProcess],
    db_url: str,
    machine: Machine,
    tmp_path: Path,
) -> None:
    broken = make_hook("broken", ["problem_report.created"], disable_after=timedelta(hours=1))
    watch = make_hook("watch", ["endpoint.disabled"])
    receiver.behave(broken.path, lambda seen: Reply(500, b'{"error": "down"}'))
    clock = FileClock(tmp_path / "clock")
    listener = start_listener(clock=clock.path)

    events = insert_reports(db_url, machine, 2)
    wait_until(lambda: receiver.at(broken.path), what="a first failed attempt")
    assert not receiver.at(watch.path), "not yet: failing for less than an hour"
    clock.move_on(timedelta(hours=2))

    (alert,) = wait_until(lambda: receiver.at(watch.path), what="the endpoint.disabled alert")
    assert alert.json["type"] == "endpoint.disabled"
    data = alert.json["data"]
    assert data["endpoint"] == {"id": broken.endpoint.pk, "name": "broken", "kind": "json"}
    assert data["held"] == 2
    assert data["url"].endswith(f"/admin/notifications/endpoint/{broken.endpoint.pk}/change/")
    logged = listener.wait_for("endpoint.auto_disabled", endpoint_id=broken.endpoint.pk)
    assert logged["disable_after_s"] == 3600 and logged["event_id"] > max(events)
    listener.wait_for("endpoint.released", endpoint_id=broken.endpoint.pk)

    endpoint = Endpoint.objects.get(pk=broken.endpoint.pk)
    assert not endpoint.enabled and endpoint.disabled_at is not None
    assert endpoint.disabled_reason.startswith("failing since ")
    assert "500" in endpoint.disabled_reason
    held = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    assert sorted(held.values_list("event_id", flat=True)) == events
    attempts_while_on = len(receiver.at(broken.path))

    # The endpoint is mended; enabled again, it sends what it held back, in order.
    receiver.behave(broken.path, lambda seen: Reply())
    assert operations.enable(endpoint, "send") == 2
    assert endpoint.enabled and endpoint.disabled_at is None and endpoint.disabled_reason == ""
    wait_until(
        lambda: receiver.event_ids(broken.path)[attempts_while_on:] == events,
        what="the held-back events, in order",
    )
    wait_until(lambda: not held.exists(), what="the held-back deliveries recorded as delivered")
    assert len(receiver.at(watch.path)) == 1


def test_enabling_again_drops_what_was_held_back_when_asked(
    raw: psycopg.Connection[Any],
) -> None:
    endpoint_id = add_endpoint(raw, "dropper")
    deliveries = [pending_delivery(raw, endpoint_id) for _ in range(3)]
    raw.execute("UPDATE notification_endpoints SET enabled = false WHERE id = %s", [endpoint_id])
    raw.commit()
    endpoint = Endpoint.objects.get(pk=endpoint_id)
    assert operations.held_back(endpoint).count == 3

    assert operations.enable(endpoint, "drop") == 3
    dropped = Delivery.objects.filter(pk__in=deliveries)
    assert {(d.status, d.last_error) for d in dropped} == {
        (DeliveryStatus.FAILED, operations.DROPPED)
    }
    assert all(d.finished_at is not None for d in dropped)
    assert Endpoint.objects.get(pk=endpoint_id).enabled


def test_sent_after_being_held_back_their_age_starts_again(
    raw: psycopg.Connection[Any],
) -> None:
    endpoint_id = add_endpoint(raw, "late")
    delivery = pending_delivery(raw, endpoint_id)
    raw.execute(
        "UPDATE notification_deliveries SET created_at = now() - interval '3 days',"
        " next_attempt_at = now() + interval '1 hour' WHERE id = %s",
        [delivery],
    )
    raw.execute("UPDATE notification_endpoints SET enabled = false WHERE id = %s", [endpoint_id])
    raw.commit()

    assert operations.enable(Endpoint.objects.get(pk=endpoint_id), "send") == 1
    row = raw.execute(
        query("next_deliveries"), {"endpoint_id": endpoint_id, "limit": 10, "after": 0}
    ).fetchone()
    assert row is not None
    _, _, _, next_attempt_at, age_from, *_ = row
    now = datetime.now(UTC)
    assert now - age_from < timedelta(minutes=1), "not expired by the give-up schedule"
    assert next_attempt_at <= now, "due at once, even one waiting out a backoff"


def test_the_cli_asks_what_to_do_with_what_was_held_back(raw: psycopg.Connection[Any]) -> None:
    endpoint_id = add_endpoint(raw, "cli")
    pending_delivery(raw, endpoint_id)
    raw.execute("UPDATE notification_endpoints SET enabled = false WHERE id = %s", [endpoint_id])
    raw.commit()

    with pytest.raises(CommandError, match=r"held back 1 message.*--send-held.*--drop-held"):
        call_command("endpoints", "enable", str(endpoint_id))
    assert not Endpoint.objects.get(pk=endpoint_id).enabled

    call_command("endpoints", "enable", str(endpoint_id), "--drop-held")
    assert Endpoint.objects.get(pk=endpoint_id).enabled
    assert not Delivery.objects.filter(endpoint_id=endpoint_id, status="pending").exists()


def test_the_cli_sets_how_long_an_endpoint_may_fail(raw: psycopg.Connection[Any]) -> None:
    endpoint_id = add_endpoint(raw, "timed")
    raw.commit()
    call_command("endpoints", "edit", str(endpoint_id), "--disable-after", "6")
    assert Endpoint.objects.get(pk=endpoint_id).disable_after == timedelta(hours=6)
    call_command("endpoints", "edit", str(endpoint_id), "--disable-after", "0")
    assert Endpoint.objects.get(pk=endpoint_id).disable_after is None
    call_command("endpoints", "edit", str(endpoint_id), "--name", "timed2")
    assert Endpoint.objects.get(pk=endpoint_id).disable_after is None, "kept when not given"
    with pytest.raises(CommandError, match="number of hours"):
        call_command("endpoints", "edit", str(endpoint_id), "--disable-after", "soon")
