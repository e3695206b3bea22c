"""Who carries a message to an endpoint: HTTP for webhooks, SMTP for mail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from listener.messages import Message
from listener.outcome import Outcome


class Sender(Protocol):
    async def send(self, url: str, message: Message) -> Outcome: ...


@dataclass(frozen=True)
class Senders:
    http: Sender
    mail: Sender

    def for_kind(self, kind: str) -> Sender:
        return self.mail if kind == "email" else self.http
