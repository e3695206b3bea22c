"""How to send a message to a webhook: one shared httpx client (aiohttp underneath), and the
classification of every answer into delivered, retry or failed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from httpx_aiohttp import AiohttpTransport

from listener.messages import Message
from listener.outcome import Outcome, Result
from listener.retry import rate_limit_pause, retry_after
from tiltbob.endpoint_urls import redact

ERROR_LIMIT = 300
USER_AGENT = "tiltbob (pinball maintenance notifier)"


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class _CookielessClient(httpx.AsyncClient):
    """One client serves every endpoint, so a cookie one endpoint sets must not ride along to
    another on the same host; not parsing them also saves real time on every response."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, value: object) -> None:
        pass


@asynccontextmanager
async def http_client(
    *, connect_timeout: float, read_timeout: float
) -> AsyncIterator[httpx.AsyncClient]:
    """The listener's one HTTP client, with keep-alive.

    No pool timeout: a request waiting for a free connection has not met the endpoint yet, so
    its wait must not count as the endpoint timing out. Each endpoint has at most one request in
    flight, and the pool is far larger than the endpoints, so that wait is short anyway.
    """
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=60)
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
    )
    transport = AiohttpTransport(limits=limits, trust_env=False)
    async with _CookielessClient(
        transport=transport,
        timeout=timeout,
        limits=limits,
        trust_env=False,
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
    ) as client:
        yield client


def _excerpt(body: bytes, url: str) -> str:
    text = body[:ERROR_LIMIT].decode("utf-8", "replace").strip().replace("\n", " ")
    return redact(text, url)


def classify(
    status: int, headers: httpx.Headers, body: bytes, url: str, duration_ms: float
) -> Outcome:
    """Delivered on 2xx; retry on 429 and 5xx (with the wait the server asks for); failed on
    any other answer, which no retry would change."""
    if 200 <= status < 300:
        return Outcome(Result.DELIVERED, status, None, duration_ms, pause=rate_limit_pause(headers))
    if status == 429:
        return Outcome(
            Result.RETRY,
            status,
            "429 rate limited",
            duration_ms,
            retry_after=retry_after(headers, body),
        )
    if status >= 500:
        return Outcome(
            Result.RETRY,
            status,
            f"{status} server error: {_excerpt(body, url)}".rstrip(": "),
            duration_ms,
            retry_after=retry_after(headers, body) if status == 503 else None,
        )
    if status == 404:
        # Discord answers this for a deleted webhook, Slack for a channel that is gone.
        reason = f"404 not found: the endpoint no longer exists: {_excerpt(body, url)}"
        return Outcome(Result.FAILED, status, reason.rstrip(": "), duration_ms)
    if 300 <= status < 400:
        return Outcome(Result.FAILED, status, f"{status} redirect, not followed", duration_ms)
    return Outcome(
        Result.FAILED, status, f"{status} refused: {_excerpt(body, url)}".rstrip(": "), duration_ms
    )


class HttpSender:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, url: str, message: Message) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            response = await self._client.post(
                url, content=message.body, headers=message.headers, params=message.query or None
            )
        except httpx.HTTPError as error:
            # Timeouts and connection failures alike are worth retrying. The exception's class
            # alone can mislead (the aiohttp transport reports a refused connection as
            # ConnectTimeout), so its message goes along, with the URL's secret parts cut out.
            reason = redact(str(error), url)[:ERROR_LIMIT]
            return Outcome(
                Result.RETRY, None, f"{type(error).__name__}: {reason}".rstrip(": "), elapsed()
            )
        return classify(response.status_code, response.headers, response.content, url, elapsed())
