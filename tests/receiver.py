"""A real HTTP server on 127.0.0.1 that records what arrives and answers as each path is told."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Hold the request until the receiver closes (an endpoint that never answers)."""
    delay: float = 0.0


@dataclass(frozen=True)
class Arrival:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


Behaviour = Callable[[int], Reply]
"""Given how many requests the path has had before this one, the reply."""


def _ok(seen: int) -> Reply:
    return Reply()


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._behaviours: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        self.closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes; without this, Nagle's algorithm and
                # the client's delayed ACK hold every answer back by 40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                path, _, query = self.path.partition("?")
                arrival = Arrival(
                    path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with receiver._lock:
                    seen = sum(1 for a in receiver.arrivals if a.path == path)
                    receiver.arrivals.append(arrival)
                    behaviour = receiver._behaviours.get(path, _ok)
                reply = behaviour(seen)
                if reply.hang:
                    receiver.closing.wait(120)
                    return
                if reply.delay:
                    receiver.closing.wait(reply.delay)
                self.send_response(reply.status)
                for name, value in {"content-type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def behave(self, path: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._behaviours[path] = behaviour

    def at(self, path: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path == path]

    def event_ids(self, path: str) -> list[int]:
        return [int(a.webhook_id) for a in self.at(path)]

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
