"""Each kind end to end: the real listener, a real HTTP receiver or SMTP server on loopback."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks.webhooks import Webhook

from tests.conftest import Hook, insert_reports
from tests.processes import ListenerProcess, run_tiltbob
from tests.receiver import Receiver, Reply
from tests.rendering import check_discord
from tests.test_commands import free_port
from tests.waiting import wait_until
from webapp.maintenance.models import Machine
from webapp.notifications.models import Endpoint

PROJECT = Path(__file__).resolve().parent.parent
StartListener = Callable[..., ListenerProcess]
MakeHook = Callable[..., Hook]


def tiltbob(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tiltbob(*args, db_url=db_url)


def test_json_requests_are_signed_and_verify(
    start_listener: StartListener,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
    secret_tokens: list[str],
) -> None:
    secret_tokens.append("tok-json-secret")
    added = tiltbob(
        db_url,
        "endpoints",
        "add",
        "--name",
        "json",
        "--url",
        receiver.url("/json/tok-json-secret"),
        "--events",
        "all",
    )
    assert added.returncode == 0, added.stderr
    secret = re.search(r"signing secret: (whsec_\S+)", added.stdout)
    assert secret, added.stdout
    assert secret.group(1) not in tiltbob(db_url, "endpoints", "list").stdout
    start_listener()
    event = insert_reports(db_url, machine, 1)[0]
    arrival = wait_until(
        lambda: [a for a in receiver.at("/json/tok-json-secret") if a.webhook_id == str(event)],
        what="the signed request",
    )[0]
    body = Webhook(secret.group(1)).verify(arrival.body, arrival.headers)
    assert body["id"] == str(event) and body["type"] == "problem_report.created"
    assert set(body) == {"type", "id", "timestamp", "data"}


def test_discord_asks_to_wait_and_batches_a_queue(
    start_listener: StartListener,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
    make_hook: MakeHook,
) -> None:
    hook = make_hook("discord", ["problem_report.created"], kind="discord")
    # Fifteen events queue up while no listener runs; then it drains them in two messages.
    events = insert_reports(db_url, machine, 15)
    with psycopg.connect(db_url) as conn:
        for event in events:
            conn.execute(
                "INSERT INTO notification_deliveries (event_id, endpoint_id) VALUES (%s, %s)",
                [event, hook.endpoint.pk],
            )
        conn.execute(
            "UPDATE notification_events SET fanned_out_at = now() WHERE id = ANY(%s)", [events]
        )
    start_listener()
    wait_until(
        lambda: sum(len(a.json["embeds"]) for a in receiver.at(hook.path)) >= 15, what="15 embeds"
    )
    arrivals = receiver.at(hook.path)
    assert [len(a.json["embeds"]) for a in arrivals] == [10, 5]
    for arrival in arrivals:
        assert arrival.query == "wait=true"
        check_discord(arrival.json)


def test_a_failed_batch_counts_as_one_failed_attempt_in_the_health(
    start_listener: StartListener,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
    make_hook: MakeHook,
) -> None:
    hook = make_hook("discord", ["problem_report.created"], kind="discord")
    receiver.behave(hook.path, lambda n: Reply(500, b"upstream down"))
    events = insert_reports(db_url, machine, 5)
    with psycopg.connect(db_url) as conn:
        for event in events:
            conn.execute(
                "INSERT INTO notification_deliveries (event_id, endpoint_id) VALUES (%s, %s)",
                [event, hook.endpoint.pk],
            )
        conn.execute(
            "UPDATE notification_events SET fanned_out_at = now() WHERE id = ANY(%s)", [events]
        )
    start_listener("--retry-first-delay", "0.2")

    def health() -> tuple[int, int] | None:
        with psycopg.connect(db_url) as conn:
            return conn.execute(
                "SELECT h.consecutive_failures,"
                " (SELECT count(*) FROM notification_attempts a"
                "   JOIN notification_deliveries d ON d.id = a.delivery_id"
                "  WHERE d.endpoint_id = h.endpoint_id)::int"
                " FROM notification_endpoint_health h WHERE h.endpoint_id = %s",
                [hook.endpoint.pk],
            ).fetchone()

    # One message of five embeds, refused at least twice: a failure per attempt, five rows each.
    found = wait_until(lambda: (h := health()) and h[1] >= 10 and h, what="two attempts")
    assert [len(a.json["embeds"]) for a in receiver.at(hook.path)][:2] == [5, 5]
    assert found[0] == found[1] // 5


def test_slack_refusals_are_permanent_with_their_reason(
    start_listener: StartListener,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
    make_hook: MakeHook,
) -> None:
    hook = make_hook("slack", ["problem_report.created"], kind="slack")
    receiver.behave(
        hook.path, lambda n: Reply(404, b"channel_not_found", {"content-type": "text/plain"})
    )
    start_listener()
    event = insert_reports(db_url, machine, 1)[0]

    def failed() -> Any:
        with psycopg.connect(db_url) as conn:
            return conn.execute(
                "SELECT status, attempts, last_error FROM notification_deliveries"
                " WHERE event_id = %s",
                [event],
            ).fetchone()

    _, attempts, error = wait_until(
        lambda: (f := failed()) and f[0] == "failed" and f, what="the failure"
    )
    assert attempts == 1 and "channel_not_found" in error
    assert "blocks" in receiver.at(hook.path)[0].json


def test_a_test_message_goes_through_the_pipeline(
    start_listener: StartListener,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
    make_hook: MakeHook,
) -> None:
    hook = make_hook("crew", [], kind="discord")  # subscribed to nothing: a test goes anyway
    start_listener()
    sent = tiltbob(
        db_url, "endpoints", "test", str(hook.endpoint.pk), "--event", "machine.status_changed"
    )
    assert sent.returncode == 0, sent.stderr
    arrival = wait_until(lambda: receiver.at(hook.path), what="the test message")[0]
    embed = arrival.json["embeds"][0]
    assert embed["title"].startswith("🧪 TEST")
    assert "test message" in embed["description"]
    check_discord(arrival.json)


# -- mail ------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((envelope, parsed))
        return "250 OK"


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    """A real SMTP server that offers and requires STARTTLS, and requires a login."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"crew",
            b"p@ss w0rd",
        )
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    yield inbox, port, cert
    controller.stop()


def test_mail_goes_out_over_starttls_with_a_login(
    start_listener: StartListener,
    smtp: tuple[Inbox, int, Path],
    machine: Machine,
    db_url: str,
    transactional_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port, cert = smtp
    endpoint = Endpoint(name="mail", event_types=["problem_report.created"])
    endpoint.set_url("mailto:crew@example.org,ana@example.org")
    endpoint.save()
    assert endpoint.kind == "email"
    monkeypatch.setenv(
        "SMTP_URL", f"smtp://crew:p%40ss%20w0rd@127.0.0.1:{port}?from=tiltbob@museum.example.org"
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test server's certificate
    monkeypatch.setenv("SITE_URL", "https://museum.example.org")
    start_listener()
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO problem_reports (machine_id, problem_type, description, reporter_name)"
            " VALUES (%s, 'no_credits', 'Coin taken, no credit', 'Zoe\r\nBcc: victim@example.org')",
            [machine.pk],
        )
    envelope, mail = wait_until(lambda: inbox.messages, timeout=20, what="the mail")[0]
    assert sorted(envelope.rcpt_tos) == ["ana@example.org", "crew@example.org"]
    assert envelope.mail_from == "tiltbob@museum.example.org"
    assert mail["Subject"] == "[tiltbob] Problem report: Medieval Madness"
    assert mail["Bcc"] is None
    assert mail["Message-ID"].startswith("<tiltbob.") and mail["Date"]
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    rich = mail.get_body(("html",))
    assert plain is not None and rich is not None
    assert "Coin taken, no credit" in plain.get_content()
    assert "https://museum.example.org/problem-reports/" in rich.get_content()
    assert "Zoe Bcc: victim@example.org" in plain.get_content()  # folded to one line, inert
    assert json.dumps(mail.get_all("To"))


def test_mail_goes_out_over_smtps(
    start_listener: StartListener,
    machine: Machine,
    db_url: str,
    tmp_path: Path,
    transactional_db: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        endpoint = Endpoint(name="mail", event_types=["machine.status_changed"])
        endpoint.set_url("mailto:crew@example.org")
        endpoint.save()
        monkeypatch.setenv("SMTP_URL", f"smtps://127.0.0.1:{port}")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        start_listener()
        machine.status = "broken"
        machine.save()
        envelope, mail = wait_until(lambda: inbox.messages, timeout=20, what="the mail")[0]
    finally:
        controller.stop()
    assert envelope.rcpt_tos == ["crew@example.org"]
    assert mail["Subject"] == "[tiltbob] Status: Medieval Madness"
    plain = mail.get_body(("plain",))
    assert plain is not None and "Status: Good → Broken" in plain.get_content()
