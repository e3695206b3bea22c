"""The benchmarks' receiver: a small aiohttp server that records when each message arrives.

    python -m bench.receiver --port 9100

POST anything: the arrival is recorded under its path and its report ids (``report_id`` in the
yardsticks' bodies, ``data.problem_report.id`` in tiltbob's json, the embeds' links in its
Discord messages, which carry up to ten). Paths under ``/hang/`` never
answer (an endpoint that hangs until the caller's timeout); paths under ``/slow/<ms>/`` answer
after that many milliseconds (an endpoint far away). ``GET /count?path=`` says how many
distinct report ids have arrived there (cheap, for polling); ``GET /arrivals?path=`` lists
them with their times; ``GET /stats`` gives this process's CPU time; ``POST /reset`` forgets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from aiohttp import web


def report_ids(body: bytes) -> list[int | None]:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return [None]
    if not isinstance(data, dict):
        return [None]
    if "report_id" in data:
        return [int(data["report_id"])]
    if "embeds" in data:
        links = [str(e.get("url", "")).rstrip("/").rsplit("/", 1)[-1] for e in data["embeds"]]
        return [int(link) if link.isdigit() else None for link in links]
    report = (data.get("data") or {}).get("problem_report") or {}
    return [int(report["id"]) if "id" in report else None]


def app() -> web.Application:
    arrivals: dict[str, list[tuple[int | None, float]]] = {}
    keys: dict[str, set[int]] = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.monotonic()
        found = report_ids(body)
        arrivals.setdefault(request.path, []).extend((key, now) for key in found)
        keys.setdefault(request.path, set()).update(key for key in found if key is not None)
        if request.path.startswith("/hang/"):
            await asyncio.sleep(3600)
        if request.path.startswith("/slow/"):
            await asyncio.sleep(int(request.path.split("/")[2]) / 1000)
        return web.json_response({"ok": True})

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"keys": len(keys.get(request.query["path"], ()))})

    async def listing(request: web.Request) -> web.Response:
        return web.json_response({"arrivals": arrivals.get(request.query["path"], [])})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"cpu_s": time.process_time()})

    async def reset(request: web.Request) -> web.Response:
        arrivals.clear()
        keys.clear()
        return web.json_response({"ok": True})

    application = web.Application()
    application.router.add_get("/count", count)
    application.router.add_get("/arrivals", listing)
    application.router.add_get("/stats", stats)
    application.router.add_post("/reset", reset)
    application.router.add_post("/{tail:.*}", hook)
    return application


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    web.run_app(app(), host="127.0.0.1", port=options.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
