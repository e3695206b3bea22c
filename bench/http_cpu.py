"""CPU per POST of each HTTP client the listener could send with, against the benchmarks'
receiver in its own process: one request at a time, and 100 in flight.

    python -m bench.http_cpu RECEIVER_URL [--requests N]

Each client runs in a process of its own (``--client NAME``), so one's imports and caches do not
weigh on another's figure; this process's CPU time over the requests is what is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

BODY = json.dumps({"report_id": 0, "description": "x" * 400}).encode()
HEADERS = {"content-type": "application/json"}
CLIENTS = ("aiohttp", "httpx", "httpx-aiohttp", "tiltbob")
"""aiohttp's own ClientSession; httpx.AsyncClient on its own transport; httpx.AsyncClient over
httpx-aiohttp's transport; the listener's sender (listener.http), as it is configured there."""


async def _poster(name: str, stack: AsyncExitStack, url: str) -> Callable[[], Awaitable[None]]:
    if name == "aiohttp":
        import aiohttp

        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def post_aiohttp() -> None:
            async with session.post(url, data=BODY, headers=HEADERS) as response:
                await response.read()

        return post_aiohttp
    if name in {"httpx", "httpx-aiohttp"}:
        import httpx

        transport: Any = None
        if name == "httpx-aiohttp":
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport()
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, limits=limits)
        )

        async def post_httpx() -> None:
            response = await client.post(url, content=BODY, headers=HEADERS)
            await response.aread()

        return post_httpx
    from listener.http import HttpSender, http_transport
    from listener.messages import Message

    http = await stack.enter_async_context(
        http_transport(connect_timeout=5, read_timeout=15, allow_private=True)
    )
    sender = HttpSender(http, request_timeout=35, allow_private=True)
    message = Message((), BODY, HEADERS)

    async def post_tiltbob() -> None:
        await sender.send(url, message)

    return post_tiltbob


async def _measure(name: str, url: str, requests: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with AsyncExitStack() as stack:
        post = await _poster(name, stack, url)
        for _ in range(50):  # warm: connections open, code paths taken
            await post()
        started = time.process_time()
        for _ in range(requests):
            await post()
        figures["sequential_ms"] = (time.process_time() - started) * 1000 / requests
        started = time.process_time()
        for _ in range(requests // 100):
            await asyncio.gather(*(post() for _ in range(100)))
        figures["concurrent_100_ms"] = (time.process_time() - started) * 1000 / requests
    return {key: round(value, 3) for key, value in figures.items()}


def measure(url: str, requests: int = 2000) -> dict[str, dict[str, float]]:
    """Every client's CPU per POST, each measured in a fresh process."""
    results: dict[str, dict[str, float]] = {}
    for name in CLIENTS:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.http_cpu",
                url,
                "--client",
                name,
                "--requests",
                str(requests),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(done.stdout)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--client", choices=CLIENTS)
    parser.add_argument("--requests", type=int, default=2000)
    options = parser.parse_args()
    if options.client:
        print(json.dumps(asyncio.run(_measure(options.client, options.url, options.requests))))
    else:
        print(json.dumps(measure(options.url, options.requests), indent=2))


if __name__ == "__main__":
    main()
