"""Least privilege: a role that may only write the maintenance tables still produces events
(the capture runs with its owner's rights) and cannot forge the notifier's rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.conftest import Outbox
from webapp.maintenance.models import Machine

MAINTENANCE = (
    "locations",
    "machines",
    "maintainers",
    "problem_reports",
    "log_entries",
    "log_entry_maintainers",
)
NOTIFIER = (
    "notification_events",
    "notification_deliveries",
    "notification_attempts",
    "notification_endpoint_health",
    "notification_endpoints",
    "notification_switches",
)


@pytest.fixture
def script_role(db_url: str) -> Iterator[str]:
    """A role like the one the docs give people who write with psql: the maintenance tables
    only."""
    role = f"tiltbob_script_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in MAINTENANCE), sql.Identifier(role)
            )
        )
        admin.execute(
            sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {}").format(
                sql.Identifier(role)
            )
        )
    try:
        yield role
    finally:
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def as_role(conn: psycopg.Connection[Any], role: str) -> None:
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def test_a_role_without_rights_on_the_notifier_still_produces_events(
    db_url: str, machine: Machine, script_role: str
) -> None:
    outbox = Outbox(db_url)
    with psycopg.connect(db_url) as conn:
        as_role(conn, script_role)
        conn.execute(
            "INSERT INTO problem_reports (machine_id, problem_type, description)"
            " VALUES (%s, 'stuck_ball', 'from a script')",
            [machine.pk],
        )
        conn.execute("UPDATE machines SET status = 'broken' WHERE id = %s", [machine.pk])
    events = outbox.new()
    assert sorted(e["type"] for e in events) == ["machine.status_changed", "problem_report.created"]
    # Who did it: the session's role (here the test's login), not the functions' owner.
    with psycopg.connect(db_url) as conn:
        login = conn.execute("SELECT session_user").fetchone()
    assert login is not None and {e["actor"] for e in events} == {login[0]}


@pytest.mark.parametrize("table", NOTIFIER)
def test_that_role_cannot_write_the_notifiers_tables(
    db_url: str, script_role: str, table: str
) -> None:
    with psycopg.connect(db_url) as conn:
        as_role(conn, script_role)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
