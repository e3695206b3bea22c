"""The database contract for writers outside Django: defaults, labels, actors, psql."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.conftest import Outbox
from tests.processes import psql
from webapp.maintenance.models import LogEntry, LogKind, Machine


def test_plain_insert_of_a_problem_report_uses_database_defaults(
    raw: psycopg.Connection[Any], machine: Machine
) -> None:
    row = raw.execute(
        "INSERT INTO problem_reports (machine_id, problem_type, description, reporter_name)"
        " VALUES (%s, 'stuck_ball', 'Ball in the castle', 'Zoe')"
        " RETURNING status, reported_by_id, created_at IS NOT NULL, updated_at IS NOT NULL",
        [machine.pk],
    ).fetchone()
    raw.commit()
    assert row == ("open", None, True, True)


def test_other_tables_have_database_defaults(
    raw: psycopg.Connection[Any], machine: Machine
) -> None:
    location = raw.execute(
        "INSERT INTO locations (name, slug) VALUES ('Cellar', 'cellar') RETURNING id, sort_order"
    ).fetchone()
    assert location is not None and location[1] == 0
    status = raw.execute(
        "INSERT INTO machines (name, slug, location_id) VALUES ('Funhouse', 'funhouse', %s)"
        " RETURNING status",
        [location[0]],
    ).fetchone()
    assert status == ("unknown",)
    entry = raw.execute(
        "INSERT INTO log_entries (machine_id) VALUES (%s)"
        " RETURNING kind, text, work_date = CURRENT_DATE, created_at IS NOT NULL",
        [machine.pk],
    ).fetchone()
    assert entry == ("manual", "", True, True)
    raw.commit()


def test_invalid_values_are_refused_by_the_database(
    raw: psycopg.Connection[Any], machine: Machine
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        raw.execute("UPDATE machines SET status = 'on fire' WHERE id = %s", [machine.pk])
    raw.rollback()
    with pytest.raises(psycopg.errors.CheckViolation):
        raw.execute(
            "INSERT INTO problem_reports (machine_id, problem_type) VALUES (%s, 'tilt')",
            [machine.pk],
        )
    raw.rollback()


def test_set_local_actor_names_who_did_it(
    raw: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    with raw.transaction():
        raw.execute("SET LOCAL tiltbob.actor = 'Ana'")
        raw.execute("UPDATE machines SET status = 'fixing' WHERE id = %s", [machine.pk])
    # SET LOCAL ends with its transaction: the next change is the role's again.
    with raw.transaction():
        raw.execute("UPDATE machines SET status = 'good' WHERE id = %s", [machine.pk])
    role = raw.execute("SELECT current_user::text").fetchone()
    assert [(e["type"], e["actor"]) for e in outbox.new()] == [
        ("machine.status_changed", "Ana"),
        ("machine.status_changed", role[0] if role else None),
    ]


def test_a_bad_actor_id_never_breaks_the_commit(
    raw: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    for bad in ["not-a-number", "99999999", "1; DROP TABLE machines"]:
        with raw.transaction():
            raw.execute("SELECT set_config('tiltbob.actor_id', %s, true)", [bad])
            raw.execute(
                "UPDATE machines SET status = CASE status WHEN 'good' THEN 'broken' ELSE 'good' END"
                " WHERE id = %s",
                [machine.pk],
            )
    events = outbox.new()
    assert len(events) == 3
    assert not LogEntry.objects.filter(pk__in=[e["log_entry_id"] for e in events]).exclude(
        created_by=None
    )


def test_a_note_serves_one_change_only(
    raw: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    with raw.transaction():
        raw.execute("SET LOCAL tiltbob.note = 'Fuse F114 blown'")
        raw.execute("UPDATE machines SET status = 'broken' WHERE id = %s", [machine.pk])
        raw.execute("UPDATE machines SET status = 'fixing' WHERE id = %s", [machine.pk])
    assert [e["snapshot"]["note"] for e in outbox.new()] == ["Fuse F114 blown", ""]


def test_saving_unchanged_values_announces_nothing(
    raw: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    with raw.transaction():
        raw.execute(
            "UPDATE machines SET status = status, location_id = location_id, name = 'MM'"
            " WHERE id = %s",
            [machine.pk],
        )
    assert outbox.new() == []


def test_updated_at_moves_on_any_update(raw: psycopg.Connection[Any], machine: Machine) -> None:
    before = raw.execute("SELECT updated_at FROM machines WHERE id = %s", [machine.pk]).fetchone()
    raw.commit()
    after = raw.execute(
        "UPDATE machines SET name = 'MM' WHERE id = %s RETURNING updated_at", [machine.pk]
    ).fetchone()
    raw.commit()
    assert before is not None and after is not None and after[0] > before[0]


def test_the_snapshot_is_the_final_state_of_the_transaction(
    raw: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    with raw.transaction():
        raw.execute(
            "INSERT INTO problem_reports (machine_id, problem_type, description)"
            " VALUES (%s, 'other', 'draft')",
            [machine.pk],
        )
        raw.execute(
            "UPDATE problem_reports SET description = 'final words' WHERE machine_id = %s",
            [machine.pk],
        )
        raw.execute(
            "UPDATE machines SET name = 'Medieval Madness (remake)' WHERE id = %s", [machine.pk]
        )
    snap = outbox.one()["snapshot"]
    assert snap["problem_report"]["description"] == "final words"
    assert snap["machine"]["name"] == "Medieval Madness (remake)"


def test_something_deleted_before_commit_is_not_announced(
    raw: psycopg.Connection[Any], db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    with raw.transaction():
        raw.execute(
            "INSERT INTO problem_reports (machine_id, problem_type) VALUES (%s, 'other')",
            [machine.pk],
        )
        raw.execute("DELETE FROM problem_reports WHERE machine_id = %s", [machine.pk])
    assert outbox.new() == []


def test_psql_update_of_a_status_writes_the_log_entry_and_the_event(
    db_url: str, machine: Machine
) -> None:
    outbox = Outbox(db_url)
    result = psql(db_url, f"UPDATE machines SET status='broken' WHERE slug='{machine.slug}'")
    assert result.returncode == 0, result.stderr

    event = outbox.one()
    with psycopg.connect(db_url) as conn:
        role = conn.execute("SELECT current_user::text").fetchone()
    assert event["type"] == "machine.status_changed"
    assert event["actor"] == (role[0] if role else None)
    assert event["snapshot"]["summary"] == "Status: Good → Broken"
    entry = LogEntry.objects.get(pk=event["log_entry_id"])
    assert entry.kind == LogKind.STATUS_CHANGED
    assert entry.text == "Status: Good → Broken"
    assert entry.machine_id == machine.pk


def test_models_and_migrations_agree(transactional_db: None) -> None:
    from django.core.management import call_command

    call_command("makemigrations", check=True, dry_run=True, verbosity=0)
