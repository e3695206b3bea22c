"""Per endpoint and event type, the parts of a message it leaves out: every field of every event
type, in every kind's rendering, and end to end through a real listener."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command

from listener.messages import Message
from listener.render.cards import Presentation, card
from tests.conftest import Hook
from tests.processes import ListenerProcess
from tests.receiver import Receiver
from tests.rendering import KINDS, SITE, check_discord, check_slack, delivery, rendered
from tests.test_plans import add_endpoint
from tests.waiting import wait_until
from tiltbob.catalogue import EVENT_TYPES, FIELDS
from tiltbob.samples import snapshot
from webapp.maintenance.models import Machine
from webapp.notifications.models import Endpoint

EVERY_FIELD = [(t, key) for t in EVENT_TYPES for key, _ in FIELDS[t]]


def text_of(message: Message) -> str:
    """Everything a reader of the message could see."""
    if message.mail is not None:
        return "\n".join(
            str(part.get_content())
            for part in message.mail.walk()
            if part.get_content_maintype() == "text"
        )
    return json.dumps(json.loads(message.body), ensure_ascii=False)


@pytest.mark.parametrize(("event_type", "key"), EVERY_FIELD)
def test_each_field_can_be_left_out_and_only_it(event_type: str, key: str) -> None:
    snap = snapshot(event_type)
    snap["note"] = snap["note"] or "A note, so that there is one to leave out."
    sample = delivery(event_type, snap)
    whole = card(sample, SITE)
    less = card(sample, SITE, Presentation(hidden={f"{event_type}:{key}"}))
    label = dict(FIELDS[event_type])[key]
    if label == whole.text_label:
        assert whole.text and not less.text
        assert less.facts == whole.facts
    else:
        assert [f for f in whole.facts if f[0] != label] == list(less.facts)
        assert len(less.facts) == len(whole.facts) - 1
        assert less.text == whole.text
    assert (less.title, less.summary, less.url) == (whole.title, whole.summary, whole.url)
    for kind in KINDS:
        (message,) = rendered(kind, [sample], hidden=frozenset({f"{event_type}:{key}"}))
        if kind == "discord":
            check_discord(json.loads(message.body))
        if kind == "slack":
            check_slack(json.loads(message.body))


@pytest.mark.parametrize("kind", KINDS)
def test_a_public_channel_shows_no_reporter_name(kind: str) -> None:
    event_type = "problem_report.created"
    sample = delivery(event_type, snapshot(event_type))
    hidden = frozenset({"problem_report.created:reporter", "problem_report.created:description"})
    (whole,) = rendered(kind, [sample])
    (less,) = rendered(kind, [sample], hidden=hidden)
    assert "Zoe" in text_of(whole) and "castle gate" in text_of(whole)
    assert "Zoe" not in text_of(less) and "castle gate" not in text_of(less)
    assert "Stuck ball" in text_of(less) and "Medieval Madness" in text_of(less)
    if kind == "json":
        data = json.loads(less.body)["data"]
        assert "actor" not in data
        assert {"reporter", "reporter_name", "description"}.isdisjoint(data["problem_report"])
        assert data["problem_report"]["problem_type"] == "stuck_ball"


def test_a_hidden_field_of_another_event_type_changes_nothing() -> None:
    event_type = "problem_report.created"
    sample = delivery(event_type, snapshot(event_type))
    hidden = frozenset(f"{t}:{k}" for t, k in EVERY_FIELD if t != event_type)
    for kind in KINDS:
        (whole,) = rendered(kind, [sample])
        (other,) = rendered(kind, [sample], hidden=hidden)
        assert text_of(other) == text_of(whole)


def test_the_listener_leaves_out_what_each_endpoint_hides(
    make_hook: Callable[..., Hook],
    receiver: Receiver,
    start_listener: Callable[..., ListenerProcess],
    db_url: str,
    machine: Machine,
) -> None:
    public = make_hook("public", ["problem_report.created"], kind="discord")
    crew = make_hook("crew", ["problem_report.created"], kind="discord")
    Endpoint.objects.filter(pk=public.endpoint.pk).update(
        hidden_fields=["problem_report.created:reporter", "problem_report.created:description"]
    )
    start_listener()
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO problem_reports (machine_id, problem_type, description, reporter_name)"
            " VALUES (%s, 'stuck_ball', 'ball behind the gate', 'Zoe Private')",
            [machine.pk],
        )
    (seen,) = wait_until(lambda: receiver.at(public.path), what="the public channel's message")
    (full,) = wait_until(lambda: receiver.at(crew.path), what="the crew's message")
    for arrival in (seen, full):
        check_discord(arrival.json)
    assert "Zoe Private" in full.body.decode() and "ball behind the gate" in full.body.decode()
    assert "Zoe Private" not in seen.body.decode()
    assert "ball behind the gate" not in seen.body.decode()
    assert seen.json["embeds"][0]["title"] == full.json["embeds"][0]["title"]


def test_the_cli_sets_the_fields_an_endpoint_leaves_out(raw: Any) -> None:
    endpoint_id = add_endpoint(raw, "quiet")
    raw.commit()
    call_command("endpoints", "edit", str(endpoint_id), "--hide", "problem_report.created:reporter")
    assert Endpoint.objects.get(pk=endpoint_id).hidden_fields == ["problem_report.created:reporter"]
    with pytest.raises(CommandError, match=r"unknown field.*problem_report\.created:colour"):
        call_command(
            "endpoints", "edit", str(endpoint_id), "--hide", "problem_report.created:colour"
        )
    call_command("endpoints", "edit", str(endpoint_id), "--hide", "none")
    assert Endpoint.objects.get(pk=endpoint_id).hidden_fields == []
