"""A burst held back by an endpoint's quiet period (listener.digest), as one message: a line per
event, each with its link, on the card every platform already knows how to render."""

from __future__ import annotations

import json

from listener.endpoints import Endpoint
from listener.messages import Delivery, Message
from listener.render import RenderContext, discord, email, render, slack
from listener.render.cards import Card, Presentation, card
from listener.render.text import one_line
from listener.render.threads import subject_of
from tiltbob.endpoint_urls import mail_recipients


def digest_card(deliveries: list[Delivery], site_url: str, look: Presentation) -> Card:
    cards = [card(d, site_url, look) for d in deliveries]
    first, last = cards[0], cards[-1]
    actor = one_line(deliveries[0].actor) or "—"
    # Who did it is a field an endpoint may hide, per event type: hidden for one, left out.
    anonymous = any(f"{d.type}:actor" in look.hidden for d in deliveries)
    lines = [f"{c.emoji} {c.summary} — {c.url}" for c in cards]
    return Card(
        event_type="digest",
        event_id=first.event_id,
        emoji="🗂️",
        heading=f"{len(cards)} updates",
        machine=first.machine,
        url=first.url,
        color=last.color,
        timestamp=last.timestamp,
        summary="What happened, oldest first",
        text="\n".join(lines),
        text_label="Updates",
        facts=() if anonymous else (("By", actor),),
        test=False,
    )


def render_units(
    endpoint: Endpoint, units: list[list[Delivery]], context: RenderContext
) -> list[Message]:
    """The messages for a plan's units (listener.digest.plan), in order: a burst of several
    deliveries as one digest, anything else as it always goes."""
    messages: list[Message] = []
    for unit in units:
        if len(unit) == 1:
            messages += render(endpoint, unit, context)
        else:
            messages.append(render_digest(endpoint, unit, context))
    return messages


def render_digest(
    endpoint: Endpoint, deliveries: list[Delivery], context: RenderContext
) -> Message:
    look = Presentation(endpoint.hidden_fields, context.zone)
    c = digest_card(deliveries, context.site_url, look)
    if endpoint.kind == "discord":
        subject = subject_of(deliveries[0]) if endpoint.forum else None
        return discord.message(deliveries, [discord.embed(c)], subject)
    if endpoint.kind == "slack":
        return Message(
            deliveries=tuple(deliveries),
            body=json.dumps(slack.body(c), ensure_ascii=False).encode(),
            headers={"content-type": "application/json", "webhook-id": str(c.event_id)},
        )
    if endpoint.kind == "email":
        mail = email.mail(
            c,
            recipients=mail_recipients(endpoint.url),
            mail_from=context.mail_from,
            endpoint_id=endpoint.id,
            now=context.now,
        )
        return Message(deliveries=tuple(deliveries), body=b"", headers={}, mail=mail)
    raise ValueError(f"a {endpoint.kind} endpoint gets no digests")
