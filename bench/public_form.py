"""Load on the public report form: 50 visitors, each with an address of its own behind a trusted
proxy, send reports for a minute through the real web server (waitress), as a person would: the
form fetched, three seconds to fill it in, then posted.

What must hold: no 5xx; every accepted report is in the outbox exactly once and delivered
exactly once; the rate limits turn the excess away with 429s.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Any

import aiohttp

VISITORS = 50
SECONDS = 60.0
FILL_SECONDS = 3.2
MACHINES = 10
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_STARTED = re.compile(r'name="started" value="([^"]+)"')


async def _visitor(
    n: int, base: str, slugs: list[str], until: float, tally: dict[str, Any]
) -> None:
    address = f"198.51.{100 + n // 250}.{n % 250 + 1}"
    headers = {"X-Forwarded-For": address}
    # unsafe: keep the CSRF cookie of a server addressed by IP (aiohttp's jar would drop it).
    async with aiohttp.ClientSession(
        headers=headers, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        round_ = 0
        while time.monotonic() < until:
            slug = slugs[(n + round_) % len(slugs)]
            round_ += 1
            async with http.get(f"{base}/p/{slug}/") as page:
                text = await page.text()
            csrf, started = _CSRF.search(text), _STARTED.search(text)
            if not (csrf and started):
                tally["broken_forms"] += 1
                continue
            await asyncio.sleep(FILL_SECONDS + random.random() * 0.5)  # a person, filling it in
            form = {
                "csrfmiddlewaretoken": csrf.group(1),
                "started": started.group(1),
                "problem_type": "other",
                "description": f"visitor {n}, report {round_}",
                "website": "",
            }
            sent = time.monotonic()
            async with http.post(
                f"{base}/p/{slug}/", data=form, allow_redirects=False, headers={"Referer": base}
            ) as answer:
                await answer.read()
                tally["latencies"].append(time.monotonic() - sent)
                tally["statuses"][answer.status] = tally["statuses"].get(answer.status, 0) + 1


async def load(base: str, slugs: list[str]) -> dict[str, Any]:
    tally: dict[str, Any] = {"statuses": {}, "latencies": [], "broken_forms": 0}
    until = time.monotonic() + SECONDS
    await asyncio.gather(*(_visitor(n, base, slugs, until, tally) for n in range(VISITORS)))
    return tally
