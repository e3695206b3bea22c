"""The wake-up: ``pg_notify('tiltbob', '')`` reaches a LISTEN connection after COMMIT, once per
transaction, and never after ROLLBACK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import Outbox
from webapp.maintenance.models import Machine

MARKER = "tiltbob_test_marker"


@pytest.fixture
def listener(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN tiltbob")
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
