"""The listener's HTTP sender against a real server on 127.0.0.1: what it sends, what it reads
back, and what it refuses to carry from one endpoint to another."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest

from listener.http import BODY_LIMIT, HttpSender, http_transport
from listener.messages import Delivery, Message
from listener.outcome import Outcome, Result
from tests.receiver import Receiver, Reply
from tests.test_channels import self_signed

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DELIVERY = Delivery(1, 1, 0, NOW, NOW, "problem_report.created", NOW, "ana", {})


def send_all(
    urls: list[str],
    message: Message | None = None,
    *,
    connect_timeout: float = 2.0,
    read_timeout: float = 5.0,
    request_timeout: float = 10.0,
    allow_private: bool = True,
) -> list[Outcome]:
    message = message or Message((DELIVERY,), b'{"x": 1}', {"content-type": "application/json"})

    async def go() -> list[Outcome]:
        async with http_transport(
            connect_timeout=connect_timeout, read_timeout=read_timeout, allow_private=allow_private
        ) as http:
            sender = HttpSender(http, request_timeout=request_timeout, allow_private=allow_private)
            return [await sender.send(url, message) for url in urls]

    return asyncio.run(go())


def test_the_body_headers_and_query_arrive_as_given(receiver: Receiver) -> None:
    message = Message(
        (DELIVERY,),
        b'{"content": "hello"}',
        {"content-type": "application/json", "webhook-id": "42"},
        query={"wait": "true"},
    )
    [outcome] = send_all([receiver.url("/hook?thread_id=7")], message)
    assert outcome.result is Result.DELIVERED and outcome.status_code == 200
    [arrival] = receiver.at("/hook")
    assert arrival.body == b'{"content": "hello"}'
    assert arrival.webhook_id == "42"
    assert arrival.headers["user-agent"].startswith("tiltbob")
    # The endpoint's own query is kept; the message's is added to it.
    assert sorted(arrival.query.split("&")) == ["thread_id=7", "wait=true"]


def test_cookies_set_by_one_endpoint_never_reach_another(receiver: Receiver) -> None:
    receiver.behave("/a", lambda seen: Reply(headers={"set-cookie": "session=from-a; Path=/"}))
    send_all([receiver.url("/a"), receiver.url("/b"), receiver.url("/a")])
    assert [a.path for a in receiver.arrivals] == ["/a", "/b", "/a"]
    assert all("cookie" not in a.headers for a in receiver.arrivals)


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.behave(
        "/moved", lambda seen: Reply(status=302, headers={"location": receiver.url("/elsewhere")})
    )
    [outcome] = send_all([receiver.url("/moved")])
    assert outcome.result is Result.FAILED
    assert outcome.error == "302 redirect, not followed"
    assert receiver.at("/elsewhere") == []


def test_a_huge_answer_is_read_only_as_far_as_needed(receiver: Receiver) -> None:
    secret_url = receiver.url("/hook/very-secret-token")
    # The answer promises 20 MB and sends 200 kB: reading it whole would wait for a timeout.
    body = (f"error at {secret_url} " * 4000).encode()
    receiver.behave(
        "/hook/very-secret-token",
        lambda seen: Reply(status=500, body=body, headers={"content-length": str(20 << 20)}),
    )
    [outcome] = send_all([secret_url], read_timeout=5, request_timeout=30)
    assert len(body) > BODY_LIMIT
    assert outcome.result is Result.RETRY and outcome.status_code == 500
    assert outcome.error is not None and outcome.error.startswith("500 server error: error at")
    assert "very-secret-token" not in outcome.error
    assert len(outcome.error) < 400


def test_an_answer_trickling_in_is_cut_off_by_the_overall_cap(receiver: Receiver) -> None:
    # Each byte comes well within the read timeout, so only the cap on the whole exchange
    # stops it.
    receiver.behave("/slow", lambda seen: Reply(body=b"x" * 1000, trickle=0.1))
    [outcome] = send_all(
        [receiver.url("/slow")], connect_timeout=1, read_timeout=1, request_timeout=1.5
    )
    assert outcome.result is Result.RETRY
    assert outcome.error == "TimeoutError: no complete answer within 1.5 s"


def test_a_refused_connection_is_retried_with_a_reason_that_keeps_the_secret(
    receiver: Receiver,
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/webhooks/1/very-secret-token"
    [outcome] = send_all([url])
    assert outcome.result is Result.RETRY and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("ClientConnectorError")
    assert "very-secret-token" not in outcome.error


def test_a_certificate_nobody_vouches_for_is_refused(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    untrusted = Receiver(tls=context)
    try:
        [outcome] = send_all([untrusted.url("/hook/very-secret-token")])
    finally:
        untrusted.close()
    assert outcome.result is Result.RETRY and outcome.status_code is None
    assert outcome.error is not None and "certificate" in outcome.error.lower()
    assert untrusted.arrivals == []


def test_proxy_settings_in_the_environment_are_ignored(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Receiver()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url(""))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        [outcome] = send_all([receiver.url("/direct")])
    finally:
        proxy.close()
    assert outcome.result is Result.DELIVERED
    assert [a.path for a in receiver.arrivals] == ["/direct"]
    assert proxy.arrivals == []


def test_waits_a_server_asks_for_are_kept_within_the_schedule(receiver: Receiver) -> None:
    from listener.retry import RetryPolicy

    receiver.behave("/slow-down", lambda seen: Reply(429, b"{}", {"Retry-After": "1e300"}))
    receiver.behave(
        "/spent",
        lambda seen: Reply(
            200, b"{}", {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "inf"}
        ),
    )
    limited, spent = send_all([receiver.url("/slow-down"), receiver.url("/spent")])
    policy = RetryPolicy()
    assert limited.result is Result.RETRY and limited.retry_after is not None
    at = policy.next_attempt(
        created_at=NOW, failed_attempts=1, now=NOW, retry_after=limited.retry_after
    )
    assert at is not None and (at - NOW).total_seconds() <= policy.max_delay
    assert spent.result is Result.DELIVERED and spent.pause is not None
    assert policy.clamp(spent.pause) == policy.max_delay


def test_an_error_never_holds_the_url_in_any_spelling_nor_an_address(receiver: Receiver) -> None:
    from urllib.parse import quote, unquote

    url = receiver.url("/hooks/crew/tok-A1b2C3d4?sig=Zm9v+YmFy/YmF6%3D%3D")
    echo = (
        f"bad: {quote(url, safe='')} | {unquote(url)} | {url} "
        "mail ana.martins@example.org \x1b[31mred\x1b[0m\x07 end"
    )
    receiver.behave("/hooks/crew/tok-A1b2C3d4", lambda seen: Reply(400, echo.encode()))
    [outcome] = send_all([url])
    assert outcome.result is Result.FAILED and outcome.error is not None
    error = outcome.error
    for secret in ("tok-A1b2C3d4", "Zm9v", "YmFy", "YmF6"):
        assert secret not in error, error
    assert "ana.martins@" not in error and "a…@example.org" in error
    assert "\x1b" not in error and "\x07" not in error and "end" in error


def test_private_and_loopback_destinations_are_refused_unless_allowed(
    receiver: Receiver,
) -> None:
    port = receiver.port
    literal, named = receiver.url("/literal"), f"http://localhost:{port}/named"
    metadata = "http://169.254.169.254/latest/meta-data/"
    refused = send_all([literal, named, metadata], allow_private=False, connect_timeout=1.0)
    for outcome in refused:
        assert outcome.result is Result.RETRY and outcome.status_code is None
        assert outcome.error is not None and "TILTBOB_ALLOW_PRIVATE_ENDPOINTS" in outcome.error
    assert receiver.arrivals == [], "nothing may reach a refused address"
    allowed = send_all([literal, named], allow_private=True)
    assert [o.result for o in allowed] == [Result.DELIVERED, Result.DELIVERED]
