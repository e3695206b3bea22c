"""Email: one message per event, plain text and HTML, to every address of a ``mailto:`` URL.

Header values come from untrusted text (the machine's name) only after every control character,
CR and LF included, is gone: nothing typed can add a header.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from listener.messages import Delivery, Message
from listener.render.cards import PLAIN, Card, Presentation, card
from listener.render.text import cut, one_line
from tiltbob.endpoint_urls import mail_recipients

SUBJECT = 200


def subject(c: Card) -> str:
    prefix = "[tiltbob] [TEST] " if c.test else "[tiltbob] "
    return cut(one_line(f"{prefix}{c.heading}: {c.machine}"), SUBJECT)


def plain(c: Card) -> str:
    lines = [c.title, "", c.summary, ""]
    lines += [f"{name}: {value}" for name, value in c.facts]
    if c.text:
        lines += ["", f"{c.text_label}:", c.text]
    lines += ["", c.url, "", "-- ", "tiltbob, the pinball museum's maintenance notifier"]
    return "\n".join(lines) + "\n"


def rich(c: Card) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding-right:1em">{e(name)}</th><td>{e(value)}</td></tr>'
        for name, value in c.facts
    )
    text = (
        f'<h3>{e(c.text_label)}</h3><p style="white-space:pre-wrap">{e(c.text)}</p>'
        if c.text
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f'<h2 style="border-left:6px solid #{c.color:06x};padding-left:.5em">'
        f'<a href="{e(c.url, quote=True)}">{e(c.title)}</a></h2>'
        f"<p><strong>{e(c.summary)}</strong></p><table>{rows}</table>{text}"
        f'<p><a href="{e(c.url, quote=True)}">{e(c.url)}</a></p>'
        "</body></html>\n"
    )


def mail(
    c: Card, *, recipients: list[str], mail_from: str, endpoint_id: int, now: datetime
) -> EmailMessage:
    host = urlsplit(c.url).hostname or "tiltbob.invalid"
    message = EmailMessage()
    message["Subject"] = subject(c)
    message["From"] = mail_from
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now.astimezone(c.timestamp.tzinfo))  # the museum's clock
    # Stable per event and endpoint: a copy sent twice (at least once) is recognisably the same.
    message["Message-ID"] = f"<tiltbob.{c.event_id}.{endpoint_id}@{host}>"
    message["X-Tiltbob-Event"] = f"{c.event_type} {c.event_id}"
    message.set_content(plain(c))
    message.add_alternative(rich(c), subtype="html")
    return message


def render(
    deliveries: list[Delivery],
    site_url: str,
    *,
    url: str,
    mail_from: str,
    endpoint_id: int,
    now: datetime,
    look: Presentation = PLAIN,
) -> list[Message]:
    recipients = mail_recipients(url)
    return [
        Message(
            deliveries=(d,),
            body=b"",
            headers={},
            mail=mail(
                card(d, site_url, look),
                recipients=recipients,
                mail_from=mail_from,
                endpoint_id=endpoint_id,
                now=now,
            ),
        )
        for d in deliveries
    ]
