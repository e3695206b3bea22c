"""What to send: each endpoint kind's rendering of pending deliveries into messages.

Rendering is pure (no I/O): the same deliveries, endpoint and clock give the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from listener.endpoints import Endpoint
from listener.messages import Delivery, Message
from listener.render import discord, email, json_webhook, slack
from listener.render.cards import Presentation


@dataclass(frozen=True)
class RenderContext:
    site_url: str
    mail_from: str
    now: datetime
    zone: tzinfo = UTC
    """The museum's (TILTBOB_TIME_ZONE): times people read are shown in it."""


def render(endpoint: Endpoint, deliveries: list[Delivery], context: RenderContext) -> list[Message]:
    """The messages for ``deliveries`` (oldest first), in the order they must be sent."""
    look = Presentation(endpoint.hidden_fields, context.zone)
    if endpoint.kind == "discord":
        return discord.render(deliveries, context.site_url, look, forum=endpoint.forum)
    if endpoint.kind == "slack":
        return slack.render(deliveries, context.site_url, look)
    if endpoint.kind == "email":
        return email.render(
            deliveries,
            context.site_url,
            url=endpoint.url,
            mail_from=context.mail_from,
            endpoint_id=endpoint.id,
            now=context.now,
            look=look,
        )
    return json_webhook.render(
        deliveries,
        context.site_url,
        secret=endpoint.signing_secret,
        now=context.now,
        hidden=endpoint.hidden_fields,
    )
