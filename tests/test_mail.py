"""Mail's transport security, against real aiosmtpd servers: a password only over TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session

from listener.mail import MailSender, SmtpConfig
from listener.messages import Message
from listener.outcome import Result
from tests.test_commands import free_port


class Recorder:
    def __init__(self) -> None:
        self.logins: list[Any] = []
        self.mails: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.mails.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins.append(data)
        return AuthResult(success=True)


@pytest.fixture
def plain_server() -> Iterator[tuple[Recorder, int]]:
    """A server that offers no STARTTLS and would take a password in clear."""
    recorder, port = Recorder(), free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=recorder.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield recorder, port
    controller.stop()


def send(smtp_url: str) -> Any:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = "test", "tiltbob@museum.example.org", "crew@x.org"
    mail.set_content("hello")
    sender = MailSender(SmtpConfig.from_url(smtp_url), timeout=5)
    return asyncio.run(sender.send("mailto:crew@example.org", Message((), b"", {}, mail=mail)))


def test_a_server_without_starttls_never_gets_the_password(
    plain_server: tuple[Recorder, int],
) -> None:
    recorder, port = plain_server
    outcome = send(f"smtp://crew:s3cret-pass@127.0.0.1:{port}")
    assert outcome.result is Result.RETRY
    assert "does not offer STARTTLS, so the password was not sent" in outcome.error
    assert recorder.logins == [] and recorder.mails == []


def test_a_local_relay_without_credentials_may_opt_out(
    plain_server: tuple[Recorder, int],
) -> None:
    recorder, port = plain_server
    outcome = send(f"smtp://127.0.0.1:{port}?starttls=off&from=tiltbob@museum.example.org")
    assert outcome.result is Result.DELIVERED
    assert len(recorder.mails) == 1 and recorder.logins == []


def test_opting_out_with_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="would send the password in clear"):
        SmtpConfig.from_url("smtp://crew:pw@relay.example.org:587?starttls=off")
