"""Every endpoint kind and every event type: golden files (readable, reviewed by eye), platform
validity, and what hostile text can and cannot do."""

from __future__ import annotations

import json
import os
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from listener.messages import Message
from tests.rendering import (
    KINDS,
    SECRET,
    SITE,
    check_discord,
    check_mail,
    check_slack,
    delivery,
    rendered,
)
from tiltbob.catalogue import EVENT_TYPES
from tiltbob.samples import snapshot

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = bool(os.environ.get("TILTBOB_UPDATE_GOLDEN"))


def readable(kind: str, event_type: str, *, test: bool = False) -> str:
    """The rendering as a person would review it."""
    (message,) = rendered(kind, [delivery(event_type, snapshot(event_type, test=test))])
    if kind == "email":
        assert message.mail is not None
        mail = check_mail(message.mail)
        head = "\n".join(f"{k}: {mail[k]}" for k in ("Subject", "From", "To", "Message-ID", "Date"))
        parts = [p for p in mail.iter_parts() if isinstance(p, EmailMessage)]
        plain, html = (p.get_content() for p in parts)
        return f"{head}\n\n--- text/plain ---\n{plain}\n--- text/html ---\n{html}"
    headers = "".join(
        f"{k}: {v}\n" for k, v in sorted(message.headers.items()) if k.startswith("webhook")
    )
    query = "".join(f"?{k}={v}" for k, v in message.query.items())
    return (
        f"{headers}{query and 'query: ' + query + chr(10)}\n"
        + json.dumps(json.loads(message.body), indent=2, ensure_ascii=False)
        + "\n"
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_golden(kind: str, event_type: str) -> None:
    path = GOLDEN / kind / f"{event_type}.txt"
    text = readable(kind, event_type)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with TILTBOB_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_discord_body_is_valid(event_type: str) -> None:
    for test in (False, True):
        (message,) = rendered("discord", [delivery(event_type, snapshot(event_type, test=test))])
        check_discord(json.loads(message.body))
        assert message.query == {"wait": "true"}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_slack_body_builds(event_type: str) -> None:
    (message,) = rendered("slack", [delivery(event_type, snapshot(event_type))])
    check_slack(json.loads(message.body))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_test_messages_say_so(event_type: str) -> None:
    for kind in ("discord", "slack", "email"):
        text = readable(kind, event_type, test=True)
        assert "TEST" in text and "test message" in text.lower(), kind
    (message,) = rendered("json", [delivery(event_type, snapshot(event_type, test=True))])
    assert json.loads(message.body)["test"] is True


def test_the_json_signature_verifies() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    (message,) = rendered("json", [delivery("machine.added", snapshot("machine.added"))], now)
    verified = Webhook(SECRET).verify(message.body, message.headers)
    assert verified["id"] == "42" and verified["type"] == "machine.added"
    assert verified["data"]["url"] == "https://museum.example.org/logs/36/"
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(message.body.replace(b"Medieval", b"Modern"), message.headers)


def test_queued_discord_deliveries_share_messages_of_up_to_ten_embeds() -> None:
    deliveries = [
        delivery("problem_report.created", snapshot("problem_report.created"), event_id=n)
        for n in range(1, 24)
    ]
    messages = rendered("discord", deliveries)
    assert [len(m.deliveries) for m in messages] == [10, 10, 3]
    assert [d.event_id for m in messages for d in m.deliveries] == list(range(1, 24))
    for m in messages:
        body = json.loads(m.body)
        assert len(body["embeds"]) == len(m.deliveries)
        check_discord(body)


def test_big_embeds_split_to_stay_within_6000_characters() -> None:
    big = snapshot("problem_report.created")
    big["problem_report"]["description"] = "word " * 20_000
    messages = rendered(
        "discord", [delivery("problem_report.created", big, event_id=n) for n in range(1, 6)]
    )
    assert len(messages) == 5  # each embed alone is near the total
    for m in messages:
        check_discord(json.loads(m.body))


def test_a_long_description_is_cut_at_a_word_but_attribution_and_link_stay() -> None:
    snap = snapshot("problem_report.created")
    snap["problem_report"]["description"] = "flipper " * 20_000
    snap["problem_report"]["reporter"] = "Zoe the Wizard"
    (discord,) = rendered("discord", [delivery("problem_report.created", snap)])
    embed = json.loads(discord.body)["embeds"][0]
    assert embed["description"].endswith("flipper…")
    assert embed["url"] == "https://museum.example.org/problem-reports/12/"
    assert {"name": "Reported by", "value": "Zoe the Wizard", "inline": True} in embed["fields"]
    (slack,) = rendered("slack", [delivery("problem_report.created", snap)])
    text = slack.body.decode()
    assert "Zoe the Wizard" in text and "https://museum.example.org/problem-reports/12/" in text
    assert "flipper…" in text


def test_hostile_text_is_only_text() -> None:
    snap = snapshot("problem_report.created")
    snap["problem_report"]["description"] = (
        "@everyone @here <@&123> <@456> <!channel> <!here> **bold** [click](https://evil.example)"
        "\r\nBcc: victim@example.org\x00"
    )
    snap["problem_report"]["reporter"] = "<!everyone> @everyone"
    snap["machine"]["name"] = "Evil\r\nBcc: victim@example.org"
    (discord,) = rendered("discord", [delivery("problem_report.created", snap)])
    body = json.loads(discord.body)
    check_discord(body)
    description = body["embeds"][0]["description"]
    assert "\\[click\\](https://evil.example)" in description  # a masked link no more
    assert "\\<@\u200b&123>" in description and "\x00" not in description
    (slack,) = rendered("slack", [delivery("problem_report.created", snap)])
    check_slack(json.loads(slack.body))
    assert "&lt;!channel&gt;" in slack.body.decode()
    (mail,) = rendered("email", [delivery("problem_report.created", snap)])
    assert mail.mail is not None
    parsed = check_mail(mail.mail)
    assert parsed["Subject"] == "[tiltbob] Problem report: Evil Bcc: victim@example.org"
    assert parsed["Bcc"] is None


@pytest.mark.parametrize("kind", KINDS)
def test_rendering_is_pure_the_clock_is_an_argument(kind: str) -> None:
    deliveries = [delivery(t, snapshot(t)) for t in EVENT_TYPES]
    first, again = rendered(kind, deliveries), rendered(kind, deliveries)

    def mail(message: EmailMessage | None) -> object:
        # Everything but the MIME boundary, which the email package draws at random.
        if message is None:
            return None
        parts = [p.get_content() for p in message.walk() if not p.is_multipart()]
        return [(k, v) for k, v in message.items() if k != "Content-Type"], parts

    def seen(messages: list[Message]) -> list[tuple[object, ...]]:
        return [(m.body, m.headers, m.query, mail(m.mail)) for m in messages]

    assert seen(first) == seen(again)


@pytest.mark.parametrize("kind", KINDS)
def test_a_forged_snapshot_cannot_point_a_link_away_from_the_site(kind: str) -> None:
    forged = snapshot("problem_report.created")
    forged["url_path"] = "@evil.example/phish"
    forged["problem_report"] = {**forged["problem_report"], "id": "12@evil.example"}
    entry = snapshot("log_entry.created")
    entry["url_path"] = "https://evil.example/"
    [report_message] = rendered(kind, [delivery("problem_report.created", forged)])
    [entry_message] = rendered(kind, [delivery("log_entry.created", entry, event_id=43)])

    def text_of(message: Message) -> str:
        if message.mail is None:
            return message.body.decode()
        parts = [p.get_content() for p in message.mail.walk() if not p.is_multipart()]
        return "".join(parts)

    for message in (report_message, entry_message):
        text = text_of(message)
        assert "evil.example/" not in text.replace("12@evil.example", "")
        links = re.findall(r"https?://[^\s\"<>|\\]+", text)
        assert links and all(link.startswith(SITE + "/") for link in links), links
    assert f"{SITE}/logs/34/" in text_of(entry_message)
