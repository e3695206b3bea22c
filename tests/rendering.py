"""Helpers for the rendering tests: deliveries from snapshots, endpoints of every kind, and the
checks every rendered body must pass."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import cache
from typing import Any

import jsonschema
from slack_sdk.models.blocks import Block

from listener.endpoints import Endpoint
from listener.messages import Delivery, Message
from listener.render import RenderContext, render
from tests.specs import DISCORD_OPENAPI
from tiltbob.catalogue import EVENT_TYPES

OCCURRED = datetime(2026, 11, 28, 15, 4, 7, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 15, 4, 9, tzinfo=UTC)
SITE = "https://museum.example.org"
SECRET = "whsec_" + base64.b64encode(b"tiltbob-golden-file-secret").decode()
URLS = {
    "discord": "https://discord.com/api/webhooks/1/secret-token",
    "slack": "https://hooks.slack.com/services/T0/B0/secret-token",
    "email": "mailto:crew@example.org,ana@example.org",
    "json": "https://example.org/hooks/tiltbob",
}
KINDS = tuple(URLS)
DISCORD_TOTAL = 6000


def endpoint(kind: str, hidden: frozenset[str] = frozenset()) -> Endpoint:
    return Endpoint(
        id=3,
        name=f"{kind} crew",
        kind=kind,
        url=URLS[kind],
        enabled=True,
        event_types=EVENT_TYPES,
        signing_secret=SECRET if kind == "json" else None,
        hidden_fields=hidden,
    )


def delivery(event_type: str, snapshot: dict[str, Any], *, event_id: int = 42) -> Delivery:
    return Delivery(
        id=event_id + 1000,
        event_id=event_id,
        attempts=0,
        next_attempt_at=OCCURRED,
        created_at=OCCURRED,
        type=event_type,
        occurred_at=OCCURRED,
        actor=str(snapshot.get("actor") or "postgres"),
        snapshot=snapshot,
    )


def rendered(
    kind: str,
    deliveries: list[Delivery],
    now: datetime = NOW,
    hidden: frozenset[str] = frozenset(),
) -> list[Message]:
    return render(
        endpoint(kind, hidden), deliveries, RenderContext(SITE, "tiltbob@museum.example.org", now)
    )


@cache
def discord_validator() -> jsonschema.Draft202012Validator:
    spec = json.loads(DISCORD_OPENAPI.read_text())
    schema = {**spec, "$ref": "#/components/schemas/IncomingWebhookRequestPartial"}
    return jsonschema.Draft202012Validator(schema)


def check_discord(body: dict[str, Any]) -> None:
    errors = sorted(discord_validator().iter_errors(body), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}"[:300] for e in errors]
    assert body["allowed_mentions"] == {"parse": []}
    assert 1 <= len(body["embeds"]) <= 10
    total = 0
    for e in body["embeds"]:
        total += len(e.get("title", "")) + len(e.get("description", ""))
        total += len(e.get("footer", {}).get("text", "")) + len(e.get("author", {}).get("name", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
    assert total <= DISCORD_TOTAL, total
    assert "@everyone" not in json.dumps(body, ensure_ascii=False)
    assert "@here" not in json.dumps(body, ensure_ascii=False)


def check_slack(body: dict[str, Any]) -> None:
    assert isinstance(body["text"], str) and body["text"]
    for block in body["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    text = json.dumps(body, ensure_ascii=False)
    for syntax in ("<!channel", "<!here", "<!everyone", "<@", "<#"):
        assert syntax not in text


def parse_mail(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(message.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


MAIL_HEADERS = {
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "X-Tiltbob-Event",
    "Content-Type",
    "MIME-Version",
}


def check_mail(message: EmailMessage) -> EmailMessage:
    parsed = parse_mail(message)
    assert set(parsed.keys()) == MAIL_HEADERS, parsed.keys()
    for name, value in parsed.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
    assert parsed.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in parsed.iter_parts()]
    assert types == ["text/plain", "text/html"]
    return parsed
