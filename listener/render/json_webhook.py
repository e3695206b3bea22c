"""Plain JSON endpoints: the documented body, signed per the Standard Webhooks scheme.

Headers: ``webhook-id`` (the event id: the same on every retry, so a receiver can drop a
duplicate), ``webhook-timestamp`` (seconds, when this attempt was made) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` under the endpoint's
``whsec_`` secret). The ``standardwebhooks`` package verifies them.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from listener.messages import Delivery, Message, event_body


def render(
    deliveries: list[Delivery],
    site_url: str,
    *,
    secret: str | None,
    now: datetime,
    hidden: Collection[str] = (),
) -> list[Message]:
    messages = []
    stamp = now.astimezone(UTC)
    for d in deliveries:
        payload = json.dumps(event_body(d, site_url, hidden), ensure_ascii=False)
        msg_id = str(d.event_id)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
        }
        if secret:
            headers["webhook-signature"] = Webhook(secret).sign(msg_id, stamp, payload)
        messages.append(Message(deliveries=(d,), body=payload.encode(), headers=headers))
    return messages
