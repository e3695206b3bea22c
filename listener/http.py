"""How to send a message to a webhook: one shared aiohttp session, and the classification of
every answer into delivered, retry or failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp

from listener.messages import Message
from listener.outcome import Outcome, Result
from listener.retry import rate_limit_pause, retry_after
from tiltbob.endpoint_urls import redact

ERROR_LIMIT = 300
BODY_LIMIT = 64 * 1024
"""Of an answer's body only this much is read: enough for an error excerpt or a retry_after."""
USER_AGENT = "tiltbob (pinball maintenance notifier)"


@asynccontextmanager
async def http_session(
    *, connect_timeout: float, read_timeout: float
) -> AsyncIterator[aiohttp.ClientSession]:
    """The listener's one HTTP session, with keep-alive.

    No cookie jar: one session serves every endpoint, so a cookie one endpoint sets must not
    ride along to another on the same host. No timeout on waiting for a pooled connection: that
    wait is not the endpoint's fault, and with one request in flight per endpoint and a pool far
    larger than the endpoints it is short anyway. The overall cap (connect, then writing and
    reading) stops an endpoint that trickles its answer a byte at a time.
    """
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=None,
        sock_connect=connect_timeout,
        sock_read=read_timeout,
        ceil_threshold=1e9,  # exact timeouts, never rounded up to whole seconds
    )
    connector = aiohttp.TCPConnector(limit=1000, limit_per_host=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
        raise_for_status=False,
    ) as session:
        yield session


def _excerpt(body: bytes, url: str) -> str:
    text = body[:ERROR_LIMIT].decode("utf-8", "replace").strip().replace("\n", " ")
    return redact(text, url)


def classify(
    status: int, headers: Mapping[str, str], body: bytes, url: str, duration_ms: float
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


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body up to BODY_LIMIT: a huge answer must not fill the listener's memory."""
    chunks: list[bytes] = []
    size = 0
    while size < BODY_LIMIT:
        chunk = await response.content.read(BODY_LIMIT - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class HttpSender:
    def __init__(self, session: aiohttp.ClientSession, *, request_timeout: float) -> None:
        self._session = session
        self._request_timeout = request_timeout

    async def send(self, url: str, message: Message) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            # sock_read alone would let an endpoint that trickles its answer hold its queue
            # forever: the whole exchange has a cap too.
            async with asyncio.timeout(self._request_timeout):
                async with self._session.post(
                    url,
                    data=message.body,
                    headers=message.headers,
                    params=message.query or None,
                    allow_redirects=False,
                ) as response:
                    body = await _read_capped(response)
                    status, headers = response.status, response.headers
        except aiohttp.ClientError as error:
            # Timeouts and connection failures alike are worth retrying; the message goes
            # along (a refused connection names host and port), with the URL's secret parts
            # cut out.
            reason = redact(str(error), url)[:ERROR_LIMIT]
            return Outcome(
                Result.RETRY, None, f"{type(error).__name__}: {reason}".rstrip(": "), elapsed()
            )
        except TimeoutError:
            reason = f"TimeoutError: no complete answer within {self._request_timeout:g} s"
            return Outcome(Result.RETRY, None, reason, elapsed())
        return classify(status, headers, body, url, elapsed())
