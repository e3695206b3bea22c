"""The wake-ups: ``pg_notify('tiltbob', '')`` reaches a LISTEN connection after COMMIT, once per
transaction, and never after ROLLBACK; the fan-out tells the other listeners of new deliveries
only when some are for an endpoint its caller does not drive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import Outbox
from tests.test_plans import add_endpoint
from tiltbob.sqlfiles import query
from webapp.maintenance.models import Machine

MARKER = "tiltbob_test_marker"


@pytest.fixture
def listener(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN tiltbob")
        conn.execute("LISTEN tiltbob_deliveries")
        conn.execute(f"LISTEN {MARKER}")
        yield conn


def channels_until_marker(listener: psycopg.Connection[Any], db_url: str) -> list[str]:
    """Every notification up to a marker committed now. Notifications arrive in commit order,
    so whatever the earlier transactions sent is in the list, and nothing is waited on blindly."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, '')", [MARKER])
    seen: list[str] = []
    for notify in listener.notifies(timeout=10):
        if notify.channel == MARKER:
            return seen
        seen.append(notify.channel)
    raise AssertionError("the marker notification never arrived")


def insert_report(conn: psycopg.Connection[Any], machine: Machine) -> None:
    conn.execute(
        "INSERT INTO problem_reports (machine_id, problem_type, description, reporter_name)"
        " VALUES (%s, 'stuck_ball', 'x', '')",
        [machine.pk],
    )


def test_wakes_up_after_commit(
    listener: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    channels_until_marker(listener, db_url)  # drain the machine fixture's own event
    with psycopg.connect(db_url) as writer:
        insert_report(writer, machine)
        # Not yet: the transaction is open.
        assert list(listener.notifies(timeout=0.2)) == []
        writer.commit()
    assert channels_until_marker(listener, db_url) == ["tiltbob"]


def test_nothing_after_rollback(
    listener: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    channels_until_marker(listener, db_url)
    outbox = Outbox(db_url)
    with psycopg.connect(db_url) as writer:
        insert_report(writer, machine)
        writer.execute("UPDATE machines SET status = 'broken' WHERE id = %s", [machine.pk])
        writer.rollback()
    assert channels_until_marker(listener, db_url) == []
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM problem_reports").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM log_entries WHERE kind = 'status_changed'"
        ).fetchone() == (0,)
    assert outbox.new() == []


def test_one_wake_up_per_transaction(
    listener: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    channels_until_marker(listener, db_url)
    with psycopg.connect(db_url) as writer, writer.transaction():
        for _ in range(3):
            insert_report(writer, machine)
        writer.execute("UPDATE machines SET status = 'broken' WHERE id = %s", [machine.pk])
    assert channels_until_marker(listener, db_url) == ["tiltbob"]


@pytest.mark.parametrize(
    ("driven", "told"),
    [
        pytest.param("both", False, id="all driven by the caller: nobody else is told"),
        pytest.param("first", True, id="one driven elsewhere: the others are told"),
        pytest.param("none", True, id="none driven by the caller"),
    ],
)
def test_the_fan_out_tells_others_only_of_what_it_does_not_drive(
    listener: psycopg.Connection[Any], db_url: str, machine: Machine, driven: str, told: bool
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        endpoints = [add_endpoint(conn, "crew"), add_endpoint(conn, "front desk")]
        insert_report(conn, machine)
        channels_until_marker(listener, db_url)
        mine = {"both": endpoints, "first": endpoints[:1], "none": []}[driven]
        rows = conn.execute(
            query("fan_out_events"), {"batch": 100, "origin": "me", "driven": mine}
        ).fetchall()
    assert {row[1] for row in rows} == set(endpoints)
    assert channels_until_marker(listener, db_url) == (["tiltbob_deliveries"] if told else [])


def test_the_fan_out_of_an_earlier_release_always_tells(
    listener: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    """The two-argument form (a listener not yet upgraded) knows of no driven endpoint."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_endpoint(conn, "crew")
        insert_report(conn, machine)
        channels_until_marker(listener, db_url)
        rows = conn.execute("SELECT endpoint_id FROM tiltbob_fan_out(100, 'old')").fetchall()
    assert len(rows) == 1
    assert channels_until_marker(listener, db_url) == ["tiltbob_deliveries"]


def test_a_fan_out_with_nothing_to_deliver_tells_nobody(
    listener: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_report(conn, machine)  # no endpoint subscribed
        channels_until_marker(listener, db_url)
        conn.execute(query("fan_out_events"), {"batch": 100, "origin": "me", "driven": []})
    assert channels_until_marker(listener, db_url) == []
