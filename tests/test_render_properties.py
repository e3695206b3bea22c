"""Whatever anyone types, into any field of any event type: a valid body within every limit,
no mention that pings, no header that was not ours, and no crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from tests.rendering import (
    SECRET,
    check_discord,
    check_mail,
    check_slack,
    delivery,
    rendered,
)
from tiltbob.catalogue import EVENT_TYPES
from tiltbob.samples import snapshot

NASTY = [
    "@everyone",
    "@here",
    "<@&123>",
    "<@456>",
    "<#789>",
    "<!channel>",
    "<!here|here>",
    "**bold** __under__ ~~gone~~ `code` ||spoiler||",
    "[click](https://evil.example)",
    "# heading\n> quote\n- item",
    "line\r\nBcc: victim@example.org",
    "\x00\x01\x1b[31m",
    "&amp; &lt; <b>html</b>",
    "\\",
    "🎰" * 3000,
    "word " * 20_000,
    "x" * 100_000,
    "é" * 5000 + "\u0301" * 10,
]
texts = st.one_of(
    st.text(max_size=300),
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=3).map("".join),
)


def strings_of(value: Any) -> list[tuple[Any, ...]]:
    """The paths of every string in a snapshot."""
    if isinstance(value, dict):
        return [(k, *rest) for k, v in value.items() for rest in strings_of(v)]
    if isinstance(value, list):
        return [(i, *rest) for i, v in enumerate(value) for rest in strings_of(v)]
    return [()] if isinstance(value, str) else []


def with_text(snap: dict[str, Any], path: tuple[Any, ...], text: str) -> dict[str, Any]:
    target: Any = snap
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = text
    return snap


@st.composite
def hostile_snapshots(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    snap = snapshot(event_type, test=draw(st.booleans()))
    paths = [p for p in strings_of(snap) if p and p[-1] not in {"url_path", "type"}]
    for path in draw(
        st.lists(st.sampled_from(paths), min_size=1, max_size=len(paths), unique=True)
    ):
        with_text(snap, path, draw(texts))
    return event_type, snap


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_snapshots(), st.integers(min_value=1, max_value=12))
def test_discord(case: tuple[str, dict[str, Any]], queued: int) -> None:
    event_type, snap = case
    messages = rendered("discord", [delivery(event_type, snap, event_id=n) for n in range(queued)])
    assert sum(len(m.deliveries) for m in messages) == queued
    for message in messages:
        check_discord(json.loads(message.body))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_snapshots())
def test_slack(case: tuple[str, dict[str, Any]]) -> None:
    event_type, snap = case
    (message,) = rendered("slack", [delivery(event_type, snap)])
    check_slack(json.loads(message.body))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_snapshots())
def test_email(case: tuple[str, dict[str, Any]]) -> None:
    event_type, snap = case
    (message,) = rendered("email", [delivery(event_type, snap)])
    assert message.mail is not None
    check_mail(message.mail)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_snapshots())
def test_json(case: tuple[str, dict[str, Any]]) -> None:
    event_type, snap = case
    (message,) = rendered("json", [delivery(event_type, snap)], datetime.now(UTC))
    body = Webhook(SECRET).verify(message.body, message.headers)
    assert body["type"] == event_type
