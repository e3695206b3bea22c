"""The notifications admin in a real browser (Debian's chromium driven by Playwright), against a
live server, a real listener process and a local receiver that checks Discord's schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.browser import browser, desk, shoot
from tests.conftest import Hook, Person, insert_reports
from tests.processes import ListenerProcess
from tests.receiver import Receiver, Reply
from tests.rendering import check_discord
from tests.test_auto_disable import T0
from tests.test_auto_disable import record as record_outcome
from tests.waiting import wait_until
from tiltbob.sqlfiles import query
from webapp.maintenance.models import Machine, ProblemReport
from webapp.notifications.models import Delivery, Endpoint

pytestmark = pytest.mark.browser
__all__ = ["browser", "desk"]  # fixtures

StartListener = Callable[..., ListenerProcess]


def log_in(page: Any, live_server: Any, person: Person) -> None:
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill(person.username)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("text=Maintenance and notifications")


def add_endpoint(page: Any, live_server: Any, name: str, url: str, events: list[str]) -> None:
    page.goto(f"{live_server.url}/admin/notifications/endpoint/add/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("URL:", exact=True).fill(url)
    page.get_by_label("Kind").select_option("discord")
    for event_type in events:
        page.get_by_label(f"({event_type})").check()
    page.get_by_role("button", name="Save", exact=True).click()


def send_test_message(page: Any, live_server: Any, endpoint: Endpoint, event_type: str) -> str:
    page.goto(f"{live_server.url}/admin/notifications/endpoint/{endpoint.pk}/change/")
    page.get_by_role("link", name="Send test message").click()
    page.get_by_label("Event type").select_option(event_type)
    page.get_by_role("button", name="Send test message").click()
    state = page.locator("#test-state:not([data-state='waiting'])")
    state.wait_for()
    return f"{state.get_attribute('data-state')}: {state.inner_text()}"


def test_a_superuser_runs_notifications_from_the_admin(
    desk: Any,
    live_server: Any,
    ana: Person,
    machine: Machine,
    receiver: Receiver,
    start_listener: StartListener,
    db_url: str,
) -> None:
    page = desk
    start_listener()
    log_in(page, live_server, ana)
    shoot(page, "admin-index")

    # Add a Discord endpoint pointing at the local receiver, subscribed to two event types.
    add_endpoint(
        page,
        live_server,
        "Workshop",
        receiver.url("/api/webhooks/42/browser-token"),
        ["problem_report.created", "machine.status_changed"],
    )
    page.wait_for_selector("text=was added successfully")
    endpoint = Endpoint.objects.get(name="Workshop")
    assert endpoint.kind == "discord"
    assert endpoint.event_types == ["problem_report.created", "machine.status_changed"]
    assert "browser-token" not in page.content()

    # A test message goes through the listener; the page shows the outcome by itself.
    outcome = send_test_message(page, live_server, endpoint, "machine.status_changed")
    assert outcome.startswith("delivered: Delivered: HTTP 200"), outcome
    shoot(page, "admin-test-message")
    [first] = receiver.at("/api/webhooks/42/browser-token")
    check_discord(first.json)
    assert first.json["embeds"][0]["title"].startswith("🧪 TEST")

    # Edited without retyping the URL, it still delivers.
    page.goto(f"{live_server.url}/admin/notifications/endpoint/{endpoint.pk}/change/")
    assert "browser-token" not in page.content()
    page.get_by_label("Name").fill("Workshop crew")
    shoot(page, "admin-endpoint-edit")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("text=was changed successfully")
    shoot(page, "admin-endpoints")
    endpoint.refresh_from_db()
    assert endpoint.name == "Workshop crew"
    outcome = send_test_message(page, live_server, endpoint, "problem_report.created")
    assert outcome.startswith("delivered"), outcome
    assert len(receiver.at("/api/webhooks/42/browser-token")) == 2

    # With the master switch off, a new problem report is not sent.
    page.goto(f"{live_server.url}/admin/notifications/switch/")
    page.get_by_label("Master switch").uncheck()
    page.get_by_role("button", name="Save switches").click()
    page.wait_for_selector("text=The master switch is off")
    shoot(page, "admin-switches-off")
    report = ProblemReport.objects.create(machine=machine, problem_type="stuck_ball")
    with psycopg.connect(db_url) as conn:

        def fanned_out() -> bool:
            row = conn.execute(
                "SELECT fanned_out_at IS NOT NULL FROM notification_events"
                " WHERE problem_report_id = %s",
                [report.pk],
            ).fetchone()
            return bool(row and row[0])

        wait_until(fanned_out, what="the report's event to be fanned out")
    assert not Delivery.objects.filter(event__problem_report_id=report.pk).exists()
    page.get_by_label("Master switch").check()
    page.get_by_role("button", name="Save switches").click()
    page.wait_for_selector("text=Switches saved")
    assert "The master switch is off" not in page.content()

    # The delivery log: resend a delivery and the receiver gets it again.
    page.goto(f"{live_server.url}/admin/notifications/delivery/")
    shoot(page, "admin-deliveries")
    page.get_by_role("link", name=str(Delivery.objects.order_by("id").first().pk)).click()  # type: ignore[union-attr]
    shoot(page, "admin-delivery")
    page.get_by_role("button", name="Resend").click()
    page.wait_for_selector("text=Queued again as delivery")
    wait_until(
        lambda: len(receiver.at("/api/webhooks/42/browser-token")) == 3,
        what="the resent message",
    )
    again = receiver.at("/api/webhooks/42/browser-token")[2]
    check_discord(again.json)
    assert again.json["embeds"][0]["title"] == first.json["embeds"][0]["title"]

    # The webhook is moved to a forum channel, and bursts are calmed into digests.
    page.goto(f"{live_server.url}/admin/notifications/endpoint/{endpoint.pk}/change/")
    page.get_by_label("Forum channel").check()
    page.get_by_label("Quiet period (minutes)").fill("2")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("text=was changed successfully")
    endpoint.refresh_from_db()
    assert endpoint.forum and endpoint.quiet_period == timedelta(minutes=2)


def test_a_failing_endpoint_and_a_wrong_url_show_in_the_admin(
    desk: Any,
    live_server: Any,
    ana: Person,
    receiver: Receiver,
    start_listener: StartListener,
) -> None:
    page = desk
    receiver.behave(
        "/api/webhooks/7/failing-token", lambda seen: Reply(500, b'{"message": "on fire"}')
    )
    start_listener()
    log_in(page, live_server, ana)

    add_endpoint(page, live_server, "Broken", "https://discord.com/channels/1/2", [])
    page.wait_for_selector("text=This is not a Discord webhook URL")
    assert page.get_by_text("https://discord.com/api/webhooks/<id>/<token>").count() >= 1
    shoot(page, "admin-wrong-url")

    add_endpoint(
        page,
        live_server,
        "Broken",
        receiver.url("/api/webhooks/7/failing-token"),
        ["problem_report.created"],
    )
    endpoint = Endpoint.objects.get(name="Broken")
    outcome = send_test_message(page, live_server, endpoint, "problem_report.created")
    assert outcome.startswith("retrying: Not delivered: 500 server error"), outcome
    page.goto(f"{live_server.url}/admin/notifications/endpoint/?failing=yes")
    row = page.locator("#result_list tbody tr", has_text="Broken")
    row.wait_for()
    assert "500 server error" in row.inner_text()
    assert "failing-token" not in page.content()
    shoot(page, "admin-endpoints-failing")


def test_an_endpoint_the_listener_turned_off_is_enabled_again_from_the_admin(
    desk: Any,
    live_server: Any,
    ana: Person,
    machine: Machine,
    receiver: Receiver,
    make_hook: Callable[..., Hook],
    start_listener: StartListener,
    db_url: str,
) -> None:
    page = desk
    hook = make_hook("Workshop", ["problem_report.created"])
    endpoint = hook.endpoint
    events = insert_reports(db_url, machine, 2)
    with psycopg.connect(db_url) as conn:
        # What a listener does: fan the reports out, fail for a day, turn the endpoint off.
        conn.execute("SELECT * FROM tiltbob_fan_out(10, 'test')")
        record_outcome(conn, endpoint.pk, T0, success=False, failures=1)
        conn.execute(
            query("disable_failing_endpoint"),
            {"endpoint_id": endpoint.pk, "at": T0 + timedelta(hours=25)},
        )
    log_in(page, live_server, ana)

    page.goto(f"{live_server.url}/admin/notifications/endpoint/")
    row = page.locator("#result_list tbody tr", has_text="Workshop")
    assert "failing since 2026-11-28 15:00 UTC: HTTP 500" in row.inner_text()
    assert hook.token not in page.content()
    shoot(page, "admin-endpoint-turned-off")

    row.get_by_role("button", name="Off").click()
    page.wait_for_selector("#held-back")
    assert "2 messages" in page.locator("#held-back").inner_text()
    assert "failing since" in page.locator("#turned-off").inner_text()
    shoot(page, "admin-endpoint-enable")

    start_listener()
    page.get_by_role("button", name="Enable and send them, in order").click()
    page.wait_for_selector("text=Workshop enabled; 2 held-back message(s) go out in order.")
    wait_until(lambda: receiver.event_ids(hook.path) == events, what="the held-back reports")
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_at is None

    # On its page: how long it may fail before it is turned off again, in hours, and which
    # parts of its messages it leaves out.
    page.goto(f"{live_server.url}/admin/notifications/endpoint/{endpoint.pk}/change/")
    hours = page.get_by_label("Turn off after failing for (hours)")
    assert hours.input_value() == "24.00"
    hours.fill("12")
    group = page.locator("#id_leave_out > div", has_text="Problem report created")
    group.get_by_label("Reported by", exact=True).check()
    shoot(page, "admin-endpoint-fields")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector("text=was changed successfully")
    endpoint.refresh_from_db()
    assert endpoint.disable_after == timedelta(hours=12)
    assert endpoint.hidden_fields == ["problem_report.created:reporter"]
