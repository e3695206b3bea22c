"""Discord: embeds, within every limit Discord sets, and never a mention ping.

Limits (Discord's documentation; the spec in shared/ encodes all but the total): content 2000,
title 256, description 4096, 25 fields of 256 / 1024, footer 2048, 10 embeds per message,
6000 characters across a message's embeds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from listener.messages import Delivery, Message, Subject
from listener.render.cards import PLAIN, Card, Presentation, card
from listener.render.text import cut
from listener.render.threads import subject_of

TITLE, DESCRIPTION, FIELD_NAME, FIELD_VALUE, FOOTER = 256, 4096, 256, 1024, 2048
FIELDS, EMBEDS, TOTAL = 25, 10, 6000
USERNAME = "tiltbob"
# Every request asks Discord to save the message before answering (200 with the message),
# so a message it did not keep is an error rather than a silent 204.
QUERY = {"wait": "true"}

_INLINE = re.compile(r"([\\*_~`|\[\]<])")
_LINE_START = re.compile(r"^(\s*)([#>\-+]|\d+\.)", re.MULTILINE)


def escape(text: str) -> str:
    """Untrusted text shown literally: markdown escaped, masked links and mention syntax
    broken, ``@everyone`` / ``@here`` defused (``allowed_mentions`` blocks the ping anyway)."""
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    return text.replace("@", "@\u200b")


def embed(c: Card) -> dict[str, Any]:
    facts = [
        (cut(escape(name), FIELD_NAME), cut(escape(value), FIELD_VALUE) or "—")
        for name, value in c.facts[:FIELDS]
    ]
    fields = [{"name": name, "value": value, "inline": True} for name, value in facts]
    footer = "tiltbob · test message" if c.test else "tiltbob"
    title = cut(escape(c.title), TITLE)
    fixed = len(title) + len(footer) + sum(len(name) + len(value) for name, value in facts)
    # The description gives way first: the title, the link and the attribution always stay.
    room = max(0, min(DESCRIPTION, TOTAL - fixed))
    summary = escape(c.summary)
    body = f"**{summary}**"
    if c.text:
        body += f"\n\n{escape(c.text)}"
    result: dict[str, Any] = {
        "title": title,
        "url": c.url,
        "color": c.color,
        "timestamp": c.timestamp.isoformat(),
        "description": cut(body, room) if room else None,
        "fields": fields,
        "footer": {"text": footer},
    }
    return {k: v for k, v in result.items() if v is not None}


def embed_size(e: dict[str, Any]) -> int:
    """Characters that count towards Discord's 6000 per message."""
    size = len(e.get("title", "")) + len(e.get("description", ""))
    size += len(e.get("footer", {}).get("text", "")) + len(e.get("author", {}).get("name", ""))
    size += sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
    return size


def body(embeds: list[dict[str, Any]]) -> dict[str, Any]:
    return {"username": USERNAME, "embeds": embeds, "allowed_mentions": {"parse": []}}


def render(
    deliveries: list[Delivery],
    site_url: str,
    look: Presentation = PLAIN,
    *,
    forum: bool = False,
) -> list[Message]:
    """One message per up to 10 deliveries (within 6000 characters): when a queue has built up,
    it drains in fewer requests instead of waiting out the rate limit. To a forum channel, a
    message carries one subject's deliveries only: it goes into that subject's thread."""
    messages: list[Message] = []
    group: list[Delivery] = []
    embeds: list[dict[str, Any]] = []
    subject: Subject | None = None
    for delivery in deliveries:
        e = embed(card(delivery, site_url, look))
        about = subject_of(delivery) if forum else None
        full = len(group) == EMBEDS or sum(map(embed_size, embeds)) + embed_size(e) > TOTAL
        if group and (full or about != subject):
            messages.append(message(group, embeds, subject))
            group, embeds = [], []
        group.append(delivery)
        embeds.append(e)
        subject = about
    if group:
        messages.append(message(group, embeds, subject))
    return messages


def message(
    group: list[Delivery], embeds: list[dict[str, Any]], subject: Subject | None
) -> Message:
    return Message(
        deliveries=tuple(group),
        body=json.dumps(body(embeds), ensure_ascii=False).encode(),
        headers={"content-type": "application/json", "webhook-id": str(group[0].event_id)},
        query=QUERY,
        thread=subject,
    )
