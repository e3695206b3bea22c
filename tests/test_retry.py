"""The retry schedule's arithmetic and the parsing of the waits servers ask for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listener.http import classify
from listener.outcome import Result
from listener.retry import RetryPolicy, rate_limit_pause, retry_after

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(first_delay=2, factor=2, max_delay=3600)
    assert [policy.delay(n, rng=lambda: 1.0) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert policy.delay(30, rng=lambda: 1.0) == 3600
    assert policy.delay(10_000, rng=lambda: 1.0) == 3600  # no overflow
    # Jitter spreads the wait over the upper half.
    assert policy.delay(3, rng=lambda: 0.0) == 4
    assert 4 <= policy.delay(3) <= 8


def test_the_default_schedule_lasts_about_a_day() -> None:
    policy = RetryPolicy()
    created = NOW
    at, attempts = NOW, 0
    while True:
        attempts += 1
        following = policy.next_attempt(
            created_at=created, failed_attempts=attempts, now=at, rng=lambda: 1.0
        )
        if following is None:
            break
        at = following
    assert timedelta(hours=20) <= at - created <= timedelta(hours=24)
    assert 20 <= attempts <= 40


def test_a_servers_retry_after_wins_but_not_past_the_end() -> None:
    policy = RetryPolicy(first_delay=0.05)
    assert policy.next_attempt(created_at=NOW, failed_attempts=1, now=NOW, retry_after=30) == (
        NOW + timedelta(seconds=30)
    )
    assert (
        policy.next_attempt(
            created_at=NOW - timedelta(hours=23, minutes=59),
            failed_attempts=5,
            now=NOW,
            retry_after=120,
        )
        is None
    )


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {},
            b'{"message": "You are being rate limited.", "retry_after": 0.64, "global": false}',
            0.64,
        ),
        ({"retry-after": "7"}, b"", 7.0),
        ({"retry-after": "Sat, 28 Nov 2026 12:00:30 GMT"}, b"", 30.0),
        ({"x-ratelimit-reset-after": "1.5"}, b"", 1.5),
        ({"retry-after": "soon"}, b"not json", None),
        ({}, b'{"retry_after": -3}', None),
    ],
)
def test_retry_after(headers: dict[str, str], body: bytes, expected: float | None) -> None:
    assert retry_after(headers, body, now=NOW) == expected


def test_an_empty_rate_limit_bucket_pauses_the_next_request() -> None:
    assert rate_limit_pause({"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "0.8"}) == 0.8
    assert (
        rate_limit_pause({"x-ratelimit-remaining": "4", "x-ratelimit-reset-after": "0.8"}) is None
    )


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, Result.DELIVERED),
        (204, Result.DELIVERED),
        (429, Result.RETRY),
        (500, Result.RETRY),
        (502, Result.RETRY),
        (503, Result.RETRY),
        (400, Result.FAILED),
        (401, Result.FAILED),
        (403, Result.FAILED),
        (404, Result.FAILED),
        (301, Result.FAILED),
    ],
)
def test_answers_are_classified(status: int, result: Result) -> None:
    assert classify(status, {}, b"", "https://example.org/x", 1.0).result is result


def test_a_refusal_keeps_a_short_redacted_reason() -> None:
    url = "https://hooks.example.org/services/T000/B000/very-secret-token"
    outcome = classify(400, {}, f"invalid_payload for {url}".encode() * 50, url, 1.0)
    assert outcome.error is not None
    assert outcome.error.startswith("400 refused: invalid_payload for")
    assert "very-secret-token" not in outcome.error
    assert len(outcome.error) < 400


@pytest.mark.parametrize("asked", ["inf", "1e300", "Infinity", "nan", "-5"])
def test_a_wait_a_server_asks_for_stays_within_the_schedule(asked: str) -> None:
    policy = RetryPolicy(max_delay=600.0)
    headers = {"retry-after": asked, "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": asked}
    for wait in (retry_after(headers, b"", now=NOW), rate_limit_pause(headers)):
        if wait is None:
            continue  # not a number of seconds: the backoff decides
        at = policy.next_attempt(created_at=NOW, failed_attempts=1, now=NOW, retry_after=wait)
        assert at is not None and NOW <= at <= NOW + timedelta(seconds=600)
        assert 0 <= policy.clamp(wait) <= 600
