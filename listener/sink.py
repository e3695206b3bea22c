"""``tiltbob sink``: a local receiver that prints what arrives, for trying endpoints out.

tiltbob sink --port 9000
TILTBOB_ALLOW_HTTP=1 tiltbob endpoints add --name try --url http://127.0.0.1:9000/hook --events all
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from aiohttp import web

SHOWN_HEADERS = (
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "user-agent",
)


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    headers = {h: request.headers[h] for h in SHOWN_HEADERS if h in request.headers}
    try:
        shown: object = json.loads(body)
    except ValueError:
        shown = body.decode("utf-8", "replace")
    print(
        json.dumps(
            {"method": request.method, "path": request.path, "headers": headers, "body": shown},
            indent=2,
            ensure_ascii=False,
        ),
        flush=True,
    )
    return web.json_response({"ok": True})


def app() -> web.Application:
    application = web.Application(client_max_size=10 * 1024 * 1024)
    application.router.add_route("*", "/{tail:.*}", receive)
    return application


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tiltbob sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    options = parser.parse_args(argv)
    sys.stderr.write(f"tiltbob sink: listening on http://{options.host}:{options.port}/\n")
    web.run_app(app(), host=options.host, port=options.port, print=None)
    return 0
