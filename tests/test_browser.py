"""The maintenance pages in a real browser (Debian's chromium driven by Playwright), at a
phone's size."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import PHONE, browser, page, shoot
from tests.conftest import Person
from webapp.maintenance.models import Machine, ProblemReport

pytestmark = pytest.mark.browser
__all__ = ["browser", "page"]  # fixtures


def test_visitor_reports_a_stuck_ball_from_a_phone(
    page: Any, live_server: Any, machine: Machine
) -> None:
    page.goto(f"{live_server.url}/p/{machine.slug}/")
    assert page.locator("h1").inner_text() == "Medieval Madness"
    # Nothing on the form is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_label("Stuck ball").check()
    page.get_by_label("What happened?").fill("Ball stuck in the castle gate @everyone")
    page.get_by_label("Your name (optional)").fill("Zoe")
    shoot(page, "report-form")
    page.get_by_role("button", name="Send report").click()
    page.wait_for_url(f"**/p/{machine.slug}/thanks/")
    assert "Thank you" in page.locator("h1").inner_text()

    report = ProblemReport.objects.get(machine=machine)
    assert (report.problem_type, report.reporter_name) == ("stuck_ball", "Zoe")
    assert report.description == "Ball stuck in the castle gate @everyone"


def test_too_long_description_keeps_the_text(page: Any, live_server: Any, machine: Machine) -> None:
    page.goto(f"{live_server.url}/p/{machine.slug}/")
    long_text = "word " * 1000
    page.get_by_label("Other").check()
    page.get_by_label("What happened?").fill(long_text)
    page.get_by_role("button", name="Send report").click()
    page.wait_for_selector("text=please keep it under")
    shoot(page, "report-too-long")
    assert page.get_by_label("What happened?").input_value() == long_text
    assert not ProblemReport.objects.exists()


def test_maintainer_logs_in_and_closes_a_report(
    page: Any, live_server: Any, machine: Machine, ana: Person
) -> None:
    report = ProblemReport.objects.create(machine=machine, problem_type="no_credits")
    page.goto(f"{live_server.url}/problem-reports/{report.pk}/")
    page.wait_for_url("**/login/**")
    page.get_by_label("Username").fill(ana.username)
    page.get_by_label("Password").fill(ana.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/problem-reports/{report.pk}/")
    page.get_by_label("Note (optional)").fill("Coin door switch cleaned")
    shoot(page, "report-detail")
    page.get_by_role("button", name="Close report").click()
    page.wait_for_selector("text=Report closed.")
    shoot(page, "report-closed")
    report.refresh_from_db()
    assert report.status == "closed"
    assert page.get_by_role("button", name="Reopen report").is_visible()
