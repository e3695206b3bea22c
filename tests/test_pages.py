"""The maintenance pages, through Django's test client against the real database."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import Person
from webapp.maintenance.forms import DESCRIPTION_LIMIT
from webapp.maintenance.models import LogEntry, Machine, ProblemReport


def test_visitor_form_needs_no_login(client: Client, machine: Machine) -> None:
    response = client.get(f"/p/{machine.slug}/")
    assert response.status_code == 200
    assert b"Medieval Madness" in response.content
    assert b"Stuck ball" in response.content
    assert b'name="viewport"' in response.content


def test_unknown_machine_is_404(client: Client, transactional_db: None) -> None:
    assert client.get("/p/no-such-machine/").status_code == 404


def test_visitor_report_is_saved_and_thanked(client: Client, machine: Machine) -> None:
    response = client.post(
        f"/p/{machine.slug}/",
        {"problem_type": "stuck_ball", "description": "Ball stuck", "reporter_name": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/p/{machine.slug}/thanks/"
    report = ProblemReport.objects.get(machine=machine)
    assert (report.problem_type, report.description, report.status) == (
        "stuck_ball",
        "Ball stuck",
        "open",
    )
    assert b"Thank you" in client.get(response["Location"]).content


def test_a_100_kb_description_is_refused_clearly_and_kept(client: Client, machine: Machine) -> None:
    description = "The ball vanished. " * 5300  # about 100 kB
    response = client.post(
        f"/p/{machine.slug}/", {"problem_type": "other", "description": description}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert f"please keep it under {DESCRIPTION_LIMIT:,} characters" in body
    assert f"yours has {len(description.strip())}" in body
    # Nothing lost: the whole text comes back in the form to be shortened, and the browser
    # is not told to cut it.
    assert description.strip() in body
    assert "maxlength" not in body.split('name="description"')[1].split(">")[0]
    assert not ProblemReport.objects.exists()


def test_problem_type_is_required(client: Client, machine: Machine) -> None:
    response = client.post(f"/p/{machine.slug}/", {})
    assert response.status_code == 400
    assert b"This field is required" in response.content


def test_visitor_form_is_csrf_protected(machine: Machine) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/p/{machine.slug}/", {"problem_type": "stuck_ball"})
    assert response.status_code == 403
    assert not ProblemReport.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/machines/medieval-madness/",
        "/problem-reports/",
        "/machines/medieval-madness/logs/new/",
    ],
)
def test_maintainer_pages_need_login(client: Client, machine: Machine, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_with_password(client: Client, ana: Person) -> None:
    response = client.post("/login/", {"username": ana.username, "password": ana.password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_maintainer_pages_render(ana_client: Client, machine: Machine) -> None:
    report = ProblemReport.objects.create(
        machine=machine, problem_type="stuck_ball", description="<b>hi</b>"
    )
    entry = LogEntry.objects.filter(machine=machine).first()
    assert entry is not None
    for path in [
        "/",
        "/problem-reports/",
        f"/machines/{machine.slug}/",
        f"/problem-reports/{report.pk}/",
        f"/logs/{entry.pk}/",
        f"/machines/{machine.slug}/logs/new/",
    ]:
        response = ana_client.get(path)
        assert response.status_code == 200, path
        assert b"<b>hi</b>" not in response.content  # visitor text is escaped
    assert b"Medieval Madness" in ana_client.get("/").content


def test_closing_and_reopening_from_the_report_page(ana_client: Client, machine: Machine) -> None:
    report = ProblemReport.objects.create(machine=machine, problem_type="stuck_ball")
    ana_client.post(f"/problem-reports/{report.pk}/", {"action": "close", "note": "Freed the ball"})
    report.refresh_from_db()
    assert report.status == "closed"
    closed = LogEntry.objects.get(problem_report=report, kind="report_closed")
    assert closed.text.endswith("Freed the ball")
    page = ana_client.get(f"/problem-reports/{report.pk}/").content.decode()
    assert "Reopen report" in page and "Freed the ball" in page


def test_machine_page_changes_status_and_location(
    ana_client: Client, machine: Machine, other_location: object
) -> None:
    response = ana_client.post(
        f"/machines/{machine.slug}/",
        {"status": "broken", "location": machine.location_id, "note": ""},
    )
    assert response.status_code == 302
    machine.refresh_from_db()
    assert machine.status == "broken"
    page = ana_client.get(f"/machines/{machine.slug}/").content.decode()
    assert "Status: Good → Broken" in page
