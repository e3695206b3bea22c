"""Every event type, written through the web app and through raw SQL on a separate connection:
the outbox row, its snapshot, and the automatic log entries."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import Outbox, Person
from tests.writers import SqlWriter, WebWriter, Writer
from webapp.maintenance.models import Location, LogEntry, Machine, ProblemReport


@pytest.fixture(params=["web", "sql"])
def writer(request: pytest.FixtureRequest, db_url: str, ana: Person, ana_client: Client) -> Writer:
    if request.param == "web":
        return WebWriter(ana_client, ana.maintainer.display_name)
    return SqlWriter(db_url)


def assert_machine(snapshot: dict[str, Any], machine: Machine) -> None:
    machine.refresh_from_db()
    assert snapshot["machine"] == {
        "id": machine.pk,
        "name": machine.name,
        "slug": machine.slug,
        "status": machine.status,
        "status_label": machine.get_status_display(),
    }
    assert snapshot["location"] == {"id": machine.location_id, "name": machine.location.name}


def test_problem_report_created(writer: Writer, outbox: Outbox, machine: Machine) -> None:
    report_id = writer.report_problem(machine, "stuck_ball", "Ball stuck behind the castle", "Zoe")

    event = outbox.one()
    assert event["type"] == "problem_report.created"
    assert event["actor"] == writer.visitor_actor
    assert (event["machine_id"], event["problem_report_id"]) == (machine.pk, report_id)
    snap = event["snapshot"]
    assert_machine(snap, machine)
    report = snap["problem_report"]
    assert report["id"] == report_id
    assert report["problem_type"] == "stuck_ball"
    assert report["problem_type_label"] == "Stuck ball"
    assert report["description"] == "Ball stuck behind the castle"
    assert report["reporter"] == "Zoe"
    assert snap["url_path"] == f"/problem-reports/{report_id}/"
    assert snap["summary"] == "New problem report: Stuck ball"
    # A new report is not an action on the log: no automatic entry.
    assert not LogEntry.objects.filter(problem_report_id=report_id).exists()


def test_anonymous_report_names_the_visitor(
    writer: Writer, outbox: Outbox, machine: Machine
) -> None:
    writer.report_problem(machine, "no_credits", "", "")
    assert outbox.one()["snapshot"]["problem_report"]["reporter"] == "Visitor"


@pytest.mark.parametrize("note", ["", "Replaced the trough switch"])
def test_problem_report_closed_then_reopened(
    writer: Writer, db_url: str, machine: Machine, note: str
) -> None:
    report = ProblemReport.objects.create(machine=machine, problem_type="wont_start")
    outbox = Outbox(db_url)

    writer.close_report(report.pk, note)
    closed = outbox.one()
    assert closed["type"] == "problem_report.closed"
    assert closed["actor"] == writer.actor
    snap = closed["snapshot"]
    assert snap["problem_report"]["status"] == "closed"
    assert snap["problem_report"]["problem_type_label"] == "Won't start"
    assert snap["note"] == note
    assert snap["url_path"] == f"/problem-reports/{report.pk}/"
    assert_machine(snap, machine)
    entry = LogEntry.objects.get(pk=closed["log_entry_id"])
    assert (entry.kind, entry.problem_report_id) == ("report_closed", report.pk)
    assert entry.text.startswith(f"Closed problem report #{report.pk} (Won't start)")
    assert entry.text.endswith(note)

    outbox = Outbox(db_url)
    writer.reopen_report(report.pk, "Still dead")
    reopened = outbox.one()
    assert reopened["type"] == "problem_report.reopened"
    assert reopened["snapshot"]["note"] == "Still dead"
    assert reopened["snapshot"]["problem_report"]["status"] == "open"
    assert LogEntry.objects.get(pk=reopened["log_entry_id"]).kind == "report_reopened"


def test_closing_a_report_gives_exactly_one_event(
    writer: Writer, db_url: str, machine: Machine
) -> None:
    report = ProblemReport.objects.create(machine=machine, problem_type="other")
    outbox = Outbox(db_url)
    writer.close_report(report.pk, "Fixed")
    # The automatic log entry is not announced again as log_entry.created.
    assert [e["type"] for e in outbox.new()] == ["problem_report.closed"]


def test_log_entry_created_names_maintainers_added_after_insert(
    writer: Writer, outbox: Outbox, machine: Machine, ana: Person, ben: Person
) -> None:
    entry_id = writer.log_work(
        machine, "Cleaned the playfield, new rubbers", [ana.maintainer.pk, ben.maintainer.pk]
    )

    event = outbox.one()
    assert event["type"] == "log_entry.created"
    assert event["actor"] == writer.actor
    assert event["log_entry_id"] == entry_id
    snap = event["snapshot"]
    assert_machine(snap, machine)
    assert snap["log_entry"]["text"] == "Cleaned the playfield, new rubbers"
    assert snap["log_entry"]["kind"] == "manual"
    assert snap["log_entry"]["maintainers"] == ["Ana Martins", "Ben Okafor"]
    assert snap["log_entry"]["work_date"] == LogEntry.objects.get(pk=entry_id).work_date.isoformat()
    assert snap["url_path"] == f"/logs/{entry_id}/"


def test_machine_added(writer: Writer, outbox: Outbox, location: Location) -> None:
    machine_id = writer.add_machine("Attack from Mars", "attack-from-mars", location.pk)

    event = outbox.one()
    assert event["type"] == "machine.added"
    assert event["actor"] == writer.actor
    snap = event["snapshot"]
    assert_machine(snap, Machine.objects.get(pk=machine_id))
    assert snap["summary"] == "New machine added"
    entry = LogEntry.objects.get(pk=event["log_entry_id"])
    assert (entry.kind, entry.machine_id, entry.text) == (
        "machine_added",
        machine_id,
        "New machine added",
    )
    assert snap["url_path"] == f"/logs/{entry.pk}/"


def test_machine_status_changed(writer: Writer, outbox: Outbox, machine: Machine) -> None:
    writer.set_status(machine, "broken", "Right flipper dead")

    event = outbox.one()
    assert event["type"] == "machine.status_changed"
    assert event["actor"] == writer.actor
    snap = event["snapshot"]
    assert snap["summary"] == "Status: Good → Broken"
    assert snap["change"] == {
        "field": "status",
        "old": "good",
        "new": "broken",
        "old_label": "Good",
        "new_label": "Broken",
    }
    assert snap["note"] == "Right flipper dead"
    assert_machine(snap, machine)
    entry = LogEntry.objects.get(pk=event["log_entry_id"])
    assert entry.kind == "status_changed"
    assert entry.text == "Status: Good → Broken\n\nRight flipper dead"
    assert snap["url_path"] == f"/logs/{entry.pk}/"


def test_machine_location_changed(
    writer: Writer, outbox: Outbox, machine: Machine, other_location: Location
) -> None:
    writer.set_location(machine, other_location.pk)

    event = outbox.one()
    assert event["type"] == "machine.location_changed"
    assert event["actor"] == writer.actor
    snap = event["snapshot"]
    assert snap["summary"] == "Location: Floor 1 → Floor 2"
    assert snap["change"]["old_label"] == "Floor 1"
    assert snap["change"]["new_label"] == "Floor 2"
    assert snap["location"] == {"id": other_location.pk, "name": "Floor 2"}
    assert LogEntry.objects.get(pk=event["log_entry_id"]).text == "Location: Floor 1 → Floor 2"


def test_web_actions_record_the_maintainer_on_automatic_entries(
    ana_client: Client, ana: Person, outbox: Outbox, machine: Machine
) -> None:
    WebWriter(ana_client, "Ana Martins").set_status(machine, "fixing")
    entry = LogEntry.objects.get(pk=outbox.one()["log_entry_id"])
    assert entry.created_by_id == ana.maintainer.pk
