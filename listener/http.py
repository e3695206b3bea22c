"""How to send a message to a webhook: one shared httpx transport (on aiohttp, through
``httpx-aiohttp``: the cheapest here, docs/performance.md), and the classification of every
answer into delivered, retry or failed."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache

import aiohttp
import httpx
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from httpx_aiohttp import AiohttpTransport

from listener.messages import Message
from listener.outcome import Outcome, Result
from listener.retry import rate_limit_pause, retry_after
from tiltbob.endpoint_urls import forbidden, is_address, redact, tidy_error

ERROR_LIMIT = 300
BODY_LIMIT = 64 * 1024
"""Of an answer's body only this much is read: enough for an error excerpt or a retry_after."""
USER_AGENT = "tiltbob (pinball maintenance notifier)"


def _refusal(host: str, address: str) -> str:
    return (
        f"{host} is at {address}, a private, loopback or link-local address: refused "
        "(set TILTBOB_ALLOW_PRIVATE_ENDPOINTS=1 to allow endpoints on such addresses)"
    )


class PublicOnlyResolver(ThreadedResolver):
    """Resolves as usual, then keeps only public addresses: the check is made on the addresses
    the connection is made to, so a name that changes its answer cannot get around it."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        allowed = [r for r in found if not forbidden(r["host"])]
        if not allowed:
            # errno and text: aiohttp shows the strerror of what the resolver raised.
            raise OSError(errno.EACCES, _refusal(host, found[0]["host"] if found else "?"))
        return allowed


@lru_cache(maxsize=4096)
def parsed(url: str) -> httpx.URL:
    """An endpoint's URL, parsed once rather than for every message sent to it."""
    return httpx.URL(url)


@dataclass(frozen=True)
class HttpTransport:
    """What every request goes out with: httpx's transport interface over aiohttp
    (``httpx-aiohttp``), the headers every request carries, and the timeouts."""

    transport: httpx.AsyncBaseTransport
    headers: Mapping[str, str]
    timeouts: Mapping[str, float | None]


@asynccontextmanager
async def http_transport(
    *, connect_timeout: float, read_timeout: float, allow_private: bool = False
) -> AsyncIterator[HttpTransport]:
    """The listener's one HTTP connection pool, with keep-alive; closing it closes its
    connections.

    Requests go straight to httpx's transport, without an ``httpx.AsyncClient`` around it: the
    client's per-request work (merging defaults, auth and redirect machinery, a cookie jar)
    is work the listener does not want done, and cost about a fifth of the CPU of a POST
    (docs/performance.md). So: no cookies kept or sent (one pool serves every endpoint, and a
    cookie one endpoint sets must not ride along to another on the same host), no redirects
    followed, no proxy settings from the environment, TLS verified. No timeout on waiting for a
    pooled connection: that wait is not the endpoint's fault, and the pool is far larger than
    the requests in flight. Answers are asked for uncompressed, so that the 64 kB read is 64 kB
    in memory too.
    """
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=1000,
            limit_per_host=0,
            keepalive_timeout=60,
            resolver=None if allow_private else PublicOnlyResolver(),
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )
    async with AiohttpTransport(client=session, trust_env=False) as transport:
        yield HttpTransport(
            transport,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            timeouts={
                "connect": connect_timeout,
                "read": read_timeout,
                "write": read_timeout,
                "pool": None,
            },
        )


def _excerpt(body: bytes, url: str) -> str:
    # Redacted whole, then cut: a cut first could leave half a token that no longer matches.
    return tidy_error(redact(body.decode("utf-8", "replace"), url), ERROR_LIMIT)


def classify(
    status: int, headers: Mapping[str, str], body: bytes, url: str, duration_ms: float
) -> Outcome:
    """Delivered on 2xx; retry on 429 and 5xx (with the wait the server asks for); failed on
    any other answer, which no retry would change."""
    if 200 <= status < 300:
        pause = rate_limit_pause(headers)
        return Outcome(Result.DELIVERED, status, None, duration_ms, pause=pause, answer=body)
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
        return Outcome(Result.FAILED, status, reason.rstrip(": "), duration_ms, answer=body)
    if 300 <= status < 400:
        return Outcome(Result.FAILED, status, f"{status} redirect, not followed", duration_ms)
    return Outcome(
        Result.FAILED, status, f"{status} refused: {_excerpt(body, url)}".rstrip(": "), duration_ms
    )


async def _read_capped(response: httpx.Response) -> bytes:
    """The answer's body up to BODY_LIMIT: a huge answer must not fill the listener's memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk[: BODY_LIMIT - size])
        size += len(chunks[-1])
        if size >= BODY_LIMIT:
            break
    return b"".join(chunks)


class HttpSender:
    def __init__(
        self, http: HttpTransport, *, request_timeout: float, allow_private: bool = False
    ) -> None:
        self._http = http
        self._request_timeout = request_timeout
        self._allow_private = allow_private
        self._extensions = {"timeout": dict(http.timeouts)}

    async def send(self, url: str, message: Message) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        endpoint = parsed(url)
        host = endpoint.host
        if not self._allow_private and is_address(host) and forbidden(host):
            # An address in the URL is connected to without a resolver: checked here.
            return Outcome(Result.RETRY, None, _refusal(host, host), elapsed())
        # Added to the URL's own query (httpx's params= would replace it).
        target = endpoint.copy_merge_params(message.query) if message.query else endpoint
        request = httpx.Request(
            "POST",
            target,
            content=message.body,
            headers={**self._http.headers, **message.headers},
            extensions=self._extensions,
        )
        try:
            # A read timeout alone would let an endpoint that trickles its answer hold its queue
            # forever: the whole exchange has a cap too.
            async with asyncio.timeout(self._request_timeout):
                response = await self._http.transport.handle_async_request(request)
                try:
                    body = await _read_capped(response)
                finally:
                    await response.aclose()
            status, headers = response.status_code, response.headers
        except (httpx.TransportError, aiohttp.ClientError) as error:
            # Timeouts and connection failures alike are worth retrying. The reason names what
            # the transport saw (a refused connection names host and port), with the URL's
            # secret parts cut out.
            seen = error.__cause__ if isinstance(error.__cause__, aiohttp.ClientError) else error
            reason = tidy_error(redact(str(error), url), ERROR_LIMIT)
            return Outcome(
                Result.RETRY, None, f"{type(seen).__name__}: {reason}".rstrip(": "), elapsed()
            )
        except TimeoutError:
            reason = f"TimeoutError: no complete answer within {self._request_timeout:g} s"
            return Outcome(Result.RETRY, None, reason, elapsed())
        return classify(status, headers, body, url, elapsed())
