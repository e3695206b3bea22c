"""The notifications admin through Django's test client, against the real database: every page
answers for a superuser, none for other staff, none shows a stored URL, and each action does what
it says. The browser tests (test_admin_browser.py) drive the same pages in chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from tests.conftest import Hook, insert_reports, make_person
from tiltbob.catalogue import EVENT_TYPES
from webapp.maintenance.models import Machine
from webapp.notifications import operations
from webapp.notifications.models import Delivery, Endpoint, Switch, cipher

MakeHook = Callable[..., Hook]
DISCORD = "https://discord.com/api/webhooks/123456/tok-discord-secret-abcdef"


@pytest.fixture
def staff(transactional_db: None) -> Client:
    person = make_person("sam", "Sam Staff")
    user = person.maintainer.user
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def pages(endpoint: Endpoint, delivery_id: int | None) -> list[str]:
    pk = endpoint.pk
    urls = [
        reverse("admin:index"),
        reverse("admin:notifications_endpoint_changelist"),
        reverse("admin:notifications_endpoint_add"),
        reverse("admin:notifications_endpoint_change", args=[pk]),
        reverse("admin:notifications_endpoint_delete", args=[pk]),
        reverse("admin:notifications_endpoint_test", args=[pk]),
        reverse("admin:notifications_switch_changelist"),
        reverse("admin:notifications_delivery_changelist"),
        reverse("admin:notifications_event_changelist"),
    ]
    if delivery_id:
        urls.append(reverse("admin:notifications_delivery_change", args=[delivery_id]))
    return urls


def one_delivery(db_url: str, machine: Machine) -> int:
    insert_reports(db_url, machine, 1)
    with psycopg.connect(db_url) as conn:
        event = conn.execute("SELECT max(id) FROM notification_events").fetchone()
        assert event is not None
        # What the fan-out would write, written here so no listener is needed.
        row = conn.execute(
            "INSERT INTO notification_deliveries (event_id, endpoint_id)"
            " SELECT %s, id FROM notification_endpoints ORDER BY id LIMIT 1 RETURNING id",
            [event[0]],
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_every_page_answers_a_superuser_and_never_shows_the_url(
    ana_client: Client, make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew", kind="discord")
    delivery_id = one_delivery(db_url, machine)
    for url in pages(hook.endpoint, delivery_id):
        answer = ana_client.get(url)
        assert answer.status_code == 200, url
        assert hook.token not in answer.content.decode(), f"{url} shows the URL's token"
    listing = ana_client.get(reverse("admin:notifications_endpoint_changelist")).content.decode()
    assert hook.endpoint.url_hint in listing


def test_staff_who_are_not_superusers_see_none_of_it(
    staff: Client, make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew")
    delivery_id = one_delivery(db_url, machine)
    index = staff.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "Endpoints" not in index.content.decode()
    for url in pages(hook.endpoint, delivery_id)[1:]:
        assert staff.get(url).status_code == 403, url
    posts = [
        reverse("admin:notifications_endpoint_toggle", args=[hook.endpoint.pk]),
        reverse("admin:notifications_endpoint_test", args=[hook.endpoint.pk]),
        reverse("admin:notifications_endpoint_roll_secret", args=[hook.endpoint.pk]),
        reverse("admin:notifications_delivery_resend", args=[delivery_id]),
        reverse("admin:notifications_switch_changelist"),
    ]
    for url in posts:
        assert staff.post(url, {"event_type": "machine.added", "master": ""}).status_code == 403
    assert Endpoint.objects.get().enabled
    assert Switch.states()["master"]
    assert Delivery.objects.count() == 1


def add(client: Client, **fields: Any) -> Any:
    data = {"name": "Workshop", "url": DISCORD, "kind": "", "enabled": "on", **fields}
    return client.post(reverse("admin:notifications_endpoint_add"), data)


def test_a_wrong_url_gets_a_message_that_says_what_a_right_one_looks_like(
    ana_client: Client,
) -> None:
    answer = add(ana_client, url="https://discord.com/channels/1/2", kind="discord")
    text = answer.content.decode()
    assert "This is not a Discord webhook URL" in text
    assert "https://discord.com/api/webhooks/&lt;id&gt;/&lt;token&gt;" in text
    answer = add(ana_client, url="mailto:not-an-address", kind="")
    assert "needs one or more addresses" in answer.content.decode()
    answer = add(ana_client, url="https://hooks.slack.com.evil.example/x", kind="slack")
    assert "This is not a Slack webhook URL" in answer.content.decode()
    assert not Endpoint.objects.exists()


def test_the_url_is_write_only_and_a_blank_edit_keeps_it(ana_client: Client) -> None:
    answer = add(ana_client, event_types=["machine.added", "machine.status_changed"])
    assert answer.status_code == 302
    endpoint = Endpoint.objects.get()
    assert (endpoint.kind, endpoint.url()) == ("discord", DISCORD)
    assert endpoint.event_types == ["machine.added", "machine.status_changed"]
    change = reverse("admin:notifications_endpoint_change", args=[endpoint.pk])
    page = ana_client.get(change).content.decode()
    assert "tok-discord-secret" not in page and "123456" not in page
    assert re.search(r'name="url"(?![^>]*value=)', page), "the URL field must render empty"
    answer = ana_client.post(
        change, {"name": "Workshop 2", "url": "", "kind": "discord", "all_events": "on"}
    )
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.name == "Workshop 2" and endpoint.url() == DISCORD
    assert endpoint.event_types == list(EVENT_TYPES)
    assert not endpoint.enabled  # the box was left unticked
    assert endpoint.disable_after == timedelta(hours=24), "not in the post: unchanged"


def test_in_flight_defaults_to_one_and_stays_within_its_bounds(ana_client: Client) -> None:
    assert add(ana_client).status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.in_flight == 1
    change = reverse("admin:notifications_endpoint_change", args=[endpoint.pk])
    page = ana_client.get(change).content.decode()
    assert "the order is not promised" in page, "the form says what above 1 gives up"
    form = {"name": "Workshop", "url": "", "kind": "discord", "all_events": "on"}
    for wrong in ("0", "33"):
        answer = ana_client.post(change, {**form, "in_flight": wrong})
        assert answer.status_code == 200 and "errornote" in answer.content.decode()
    assert ana_client.post(change, {**form, "in_flight": "8"}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.in_flight == 8


def test_a_json_endpoints_secret_is_shown_once_and_can_be_rolled(ana_client: Client) -> None:
    answer = add(ana_client, name="Hook", url="https://example.org/hooks/tiltbob")
    first = re.search(r"whsec_[A-Za-z0-9+/=]+", answer.content.decode())
    assert answer.status_code == 200 and first, "the secret is on the page after adding"
    assert "no-store" in answer["Cache-Control"]
    endpoint = Endpoint.objects.get()
    change = ana_client.get(reverse("admin:notifications_endpoint_change", args=[endpoint.pk]))
    assert first.group(0) not in change.content.decode()
    rolled = ana_client.post(
        reverse("admin:notifications_endpoint_roll_secret", args=[endpoint.pk])
    )
    second = re.search(r"whsec_[A-Za-z0-9+/=]+", rolled.content.decode())
    assert second and second.group(0) != first.group(0)
    endpoint.refresh_from_db()
    assert cipher().decrypt(endpoint.secret_encrypted) == second.group(0)


def test_enable_and_disable_from_the_list(ana_client: Client, make_hook: MakeHook) -> None:
    one, two = make_hook("one").endpoint, make_hook("two").endpoint
    changelist = reverse("admin:notifications_endpoint_changelist")
    ana_client.post(reverse("admin:notifications_endpoint_toggle", args=[one.pk]))
    one.refresh_from_db()
    assert not one.enabled
    ana_client.post(
        changelist, {"action": "disable_selected", "_selected_action": [one.pk, two.pk]}
    )
    assert not Endpoint.objects.filter(enabled=True).exists()
    ana_client.post(changelist, {"action": "enable_selected", "_selected_action": [one.pk]})
    assert list(Endpoint.objects.filter(enabled=True)) == [one]


def test_delete_says_how_many_pending_deliveries_go_with_it(
    ana_client: Client, make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew")
    one_delivery(db_url, machine)
    delete = reverse("admin:notifications_endpoint_delete", args=[hook.endpoint.pk])
    assert "1 pending delivery of this endpoint" in ana_client.get(delete).content.decode()
    ana_client.post(delete, {"post": "yes"})
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()


def test_the_switches_page_and_the_banner(ana_client: Client, make_hook: MakeHook) -> None:
    make_hook("crew")
    switches = reverse("admin:notifications_switch_changelist")
    page = ana_client.get(switches).content.decode()
    assert "A visitor or a maintainer reports a problem with a machine." in page
    on = {name: "on" for name in Switch.states()}
    ana_client.post(switches, {**on, "master": "", "machine.added": ""})
    states = Switch.states()
    assert not states["master"] and not states["machine.added"] and states["log_entry.created"]
    for url in (switches, reverse("admin:notifications_endpoint_changelist")):
        assert "The master switch is off" in ana_client.get(url).content.decode()
    ana_client.post(switches, on)
    assert all(Switch.states().values())
    assert "The master switch is off" not in ana_client.get(switches).content.decode()


def test_resend_and_retry_now(
    ana_client: Client, make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    make_hook("crew")
    first = one_delivery(db_url, machine)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE notification_deliveries SET next_attempt_at = now() + interval '1 hour'"
            " WHERE id = %s",
            [first],
        )
    ana_client.post(reverse("admin:notifications_delivery_retry_now", args=[first]))
    delivery = Delivery.objects.get(pk=first)
    assert delivery.next_attempt_at <= timezone.now()
    answer = ana_client.post(reverse("admin:notifications_delivery_resend", args=[first]))
    again = Delivery.objects.exclude(pk=first).get()
    assert answer["Location"].endswith(f"/{again.pk}/change/")
    assert (again.event_id, again.endpoint_id, again.resend) == (
        delivery.event_id,
        delivery.endpoint_id,
        1,
    )
    assert again.pk > first and again.status == "pending"
    changelist = reverse("admin:notifications_delivery_changelist")
    ana_client.post(changelist, {"action": "resend_selected", "_selected_action": [first]})
    assert sorted(Delivery.objects.values_list("resend", flat=True)) == [0, 1, 2]


def test_a_test_message_says_no_listener_picked_it_up_when_none_runs(
    ana_client: Client, make_hook: MakeHook, db_url: str
) -> None:
    hook = make_hook("crew")
    test_page = reverse("admin:notifications_endpoint_test", args=[hook.endpoint.pk])
    answer = ana_client.post(test_page, {"event_type": "machine.status_changed"})
    event_id = int(answer["Location"].rsplit("=", 1)[1])
    result = reverse("admin:notifications_endpoint_test_result", args=[hook.endpoint.pk, event_id])
    assert ana_client.get(result).json()["state"] == "waiting"
    with psycopg.connect(db_url) as conn:  # as if ten seconds had passed
        conn.execute("UPDATE notification_deliveries SET created_at = now() - interval '1 minute'")
    outcome = ana_client.get(result).json()
    assert outcome["state"] == "no_listener" and "tiltbob listen" in outcome["text"]


def test_an_attempt_recorded_between_the_two_reads_is_not_taken_for_a_retry(
    make_hook: MakeHook, db_url: str
) -> None:
    """The delivery row is read, then its attempts: an attempt committed in between must not
    pair with the stale row (pending, no error) and read as "not delivered"."""
    hook = make_hook("crew")
    event_id = operations.send_test_message(hook.endpoint, "machine.added", actor="ana")
    with psycopg.connect(db_url) as conn:  # the attempt row, without the delivery row's update
        conn.execute(
            "INSERT INTO notification_attempts (delivery_id, status_code, duration_ms)"
            " SELECT id, 200, 1 FROM notification_deliveries WHERE event_id = %s",
            [event_id],
        )
    assert operations.result_of_test_message(hook.endpoint, event_id).state == "waiting"


def test_the_banner_is_on_every_notifications_page(
    ana_client: Client, make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew")
    delivery_id = one_delivery(db_url, machine)
    Switch.turn("master", False)
    for url in pages(hook.endpoint, delivery_id)[1:]:
        if "/delete/" in url:
            continue  # Django's confirmation page: the question, nothing else
        assert "The master switch is off" in ana_client.get(url).content.decode(), url


@override_settings(TILTBOB_ALLOW_PRIVATE_ENDPOINTS=False)
def test_the_list_says_why_the_listener_refuses_an_endpoint(ana_client: Client) -> None:
    endpoint = Endpoint(name="lan", kind="json", event_types=["machine.added"])
    endpoint.set_url("https://10.1.2.3/hooks/lan-token-xyz")
    endpoint.save()
    listing = ana_client.get(reverse("admin:notifications_endpoint_changelist")).content.decode()
    assert "10.1.2.3 is a private, loopback or link-local address" in listing
    assert "lan-token-xyz" not in listing


def test_how_long_an_endpoint_may_fail_is_set_in_hours(ana_client: Client) -> None:
    add_page = ana_client.get(reverse("admin:notifications_endpoint_add")).content.decode()
    assert re.search(r'name="disable_after_hours"[^>]*value="24\.00"', add_page), "the default"
    assert add(ana_client, disable_after_hours="1.5").status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.disable_after == timedelta(minutes=90)
    change = reverse("admin:notifications_endpoint_change", args=[endpoint.pk])
    answer = ana_client.post(
        change, {"name": "Workshop", "url": "", "kind": "discord", "disable_after_hours": ""}
    )
    assert answer.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.disable_after is None, "blank: never"
    answer = ana_client.post(
        change, {"name": "Workshop", "url": "", "kind": "discord", "disable_after_hours": "-1"}
    )
    assert "Ensure this value is greater than or equal to 0.01" in answer.content.decode()


def test_the_fields_an_endpoint_leaves_out_are_ticked_on_its_page(ana_client: Client) -> None:
    left_out = ["problem_report.created:reporter", "problem_report.created:description"]
    assert add(ana_client, leave_out=left_out).status_code == 302
    endpoint = Endpoint.objects.get()
    assert endpoint.hidden_fields == left_out
    change = reverse("admin:notifications_endpoint_change", args=[endpoint.pk])
    page = ana_client.get(change).content.decode()
    assert re.search(r'value="problem_report\.created:reporter"[^>]*checked', page)
    assert not re.search(r'value="problem_report\.created:location"[^>]*checked', page)
    answer = add(ana_client, name="Other", leave_out=["problem_report.created:colour"])
    assert "Select a valid choice" in answer.content.decode()


def test_only_a_discord_endpoint_is_offered_as_a_forum(ana_client: Client) -> None:
    answer = add(ana_client, url="https://example.org/hook", kind="json", forum="on")
    assert "Only a Discord endpoint posts into a forum channel." in answer.content.decode()
    assert not Endpoint.objects.exists()
    assert add(ana_client, forum="on").status_code == 302
    assert Endpoint.objects.get().forum


def test_a_quiet_period_is_set_in_minutes_and_not_for_json(ana_client: Client) -> None:
    answer = add(ana_client, url="https://example.org/hook", kind="json", quiet_minutes="2")
    assert "A json endpoint gets every event as it happens." in answer.content.decode()
    answer = add(ana_client, quiet_minutes="16")
    assert "Ensure this value is less than or equal to 15" in answer.content.decode()
    assert add(ana_client, quiet_minutes="2.5").status_code == 302
    assert Endpoint.objects.get().quiet_period == timedelta(minutes=2, seconds=30)
