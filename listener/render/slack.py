"""Slack: Block Kit with a plain ``text`` fallback; untrusted text escaped so that nothing a
visitor types (``<!channel>``, ``<@U123>``, a ``<link|label>``) is read as Slack syntax."""

from __future__ import annotations

import json
from typing import Any

from listener.messages import Delivery, Message
from listener.render.cards import PLAIN, Card, Presentation, card
from listener.render.text import cut, one_line

SECTION_TEXT, FIELD_TEXT, FIELDS, CONTEXT_TEXT, FALLBACK = 3000, 2000, 10, 3000, 3000


def escape(text: str) -> str:
    """Slack's three control characters (its documented escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _label(text: str) -> str:
    # Inside <url|label>, a "|" would end the label early.
    return escape(text).replace("|", "¦")


def blocks(c: Card) -> list[dict[str, Any]]:
    # The URL too: Slack's escaping, and no "|" (percent-encoded) to end it early.
    url = escape(c.url).replace("|", "%7C")
    heading = cut(f"*<{url}|{_label(c.title)}>*", SECTION_TEXT // 2)
    result: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": cut(f"{heading}\n{escape(c.summary)}", SECTION_TEXT),
            },
        }
    ]
    if c.facts:
        result.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": cut(f"*{escape(name)}*\n{escape(value)}", FIELD_TEXT),
                    }
                    for name, value in c.facts[:FIELDS]
                ],
            }
        )
    if c.text:
        result.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": cut(escape(c.text), SECTION_TEXT)},
            }
        )
    stamp = int(c.timestamp.timestamp())
    context = f"tiltbob · <!date^{stamp}^{{date_short_pretty}} {{time}}|{c.timestamp.isoformat()}>"
    result.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(context, CONTEXT_TEXT)}]}
    )
    return result


def fallback(c: Card) -> str:
    """The notification text (and what clients without blocks show)."""
    return cut(escape(one_line(f"{c.title}: {c.summary}")), FALLBACK)


def body(c: Card) -> dict[str, Any]:
    return {"text": fallback(c), "blocks": blocks(c)}


def render(deliveries: list[Delivery], site_url: str, look: Presentation = PLAIN) -> list[Message]:
    return [
        Message(
            deliveries=(d,),
            body=json.dumps(body(card(d, site_url, look)), ensure_ascii=False).encode(),
            headers={"content-type": "application/json", "webhook-id": str(d.event_id)},
        )
        for d in deliveries
    ]
