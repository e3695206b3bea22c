"""A real HTTP server on 127.0.0.1 that records what arrives and answers as each path is told."""

from __future__ import annotations

import json
import socket
import ssl
import sys
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
    trickle: float = 0.0
    """Send the body a byte at a time, this many seconds apart (an endpoint that never finishes)."""


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

Answer = Callable[[Arrival], Reply]
"""Given the request itself, the reply (a receiver that imitates a service's logic)."""


def _ok(seen: int) -> Reply:
    return Reply()


class Receiver:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if tls else "http"
        self.arrivals: list[Arrival] = []
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        """Per path: requests being answered now, and the most ever at once."""
        self._behaviours: dict[str, Behaviour] = {}
        self._answers: dict[str, Answer] = {}
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
                    answer = receiver._answers.get(path)
                    now = receiver.in_flight[path] = receiver.in_flight.get(path, 0) + 1
                    most = max(now, receiver.most_in_flight.get(path, 0))
                    receiver.most_in_flight[path] = most
                try:
                    self._answer(answer(arrival) if answer else behaviour(seen))
                finally:
                    with receiver._lock:
                        receiver.in_flight[path] -= 1

            def _answer(self, reply: Reply) -> None:
                if reply.hang:
                    receiver.closing.wait(120)
                    return
                if reply.delay:
                    receiver.closing.wait(reply.delay)
                self.send_response(reply.status)
                headers = {
                    "content-type": "application/json",
                    "content-length": str(len(reply.body)),
                    **reply.headers,  # a larger content-length: an answer that never ends
                }
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not reply.trickle:
                    self.wfile.write(reply.body)
                    return
                for byte in reply.body:
                    if receiver.closing.wait(reply.trickle):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client hanging up mid-answer (as the listener does on a huge one) is fine.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        if tls:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def behave(self, path: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._behaviours[path] = behaviour

    def answer(self, path: str, answer: Answer) -> None:
        """Answer each request to ``path`` as ``answer`` decides from the request."""
        with self._lock:
            self._answers[path] = answer

    def at(self, path: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path == path]

    def event_ids(self, path: str) -> list[int]:
        return [int(a.webhook_id) for a in self.at(path)]

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


class DiscordForum:
    """A Discord webhook into a forum channel, as Discord behaves: a post with ``thread_name``
    opens a thread and answers the message, whose ``channel_id`` is the thread's id; a post
    with ``?thread_id=`` goes into that thread, or is answered 404 "Unknown Channel" (10003)
    once the thread is deleted; a post with neither is refused (400, 220001)."""

    def __init__(self, first_id: int = 1_000_000) -> None:
        self.threads: dict[str, str] = {}
        """Thread id → its name, in the order they were opened."""
        self.posts: dict[str, list[Arrival]] = {}
        """Thread id → the requests posted into it (the opening one first)."""
        self.deleted: set[str] = set()
        self.hold_openings = threading.Event()
        """While set, a post that would open a thread hangs (a request left in flight)."""
        self._next = first_id
        self._lock = threading.Lock()

    def __call__(self, arrival: Arrival) -> Reply:
        query = dict(p.split("=", 1) for p in arrival.query.split("&") if "=" in p)
        body = arrival.json
        with self._lock:
            thread = query.get("thread_id")
            if thread is not None:
                if thread in self.deleted or thread not in self.threads:
                    return Reply(404, b'{"message": "Unknown Channel", "code": 10003}')
            elif body.get("thread_name"):
                if self.hold_openings.is_set():
                    return Reply(hang=True)
                self._next += 1
                thread = str(self._next)
                self.threads[thread] = body["thread_name"]
            else:
                return Reply(
                    400,
                    b'{"message": "Webhooks posted to forum channels must have a thread_name'
                    b' or thread_id", "code": 220001}',
                )
            self.posts.setdefault(thread, []).append(arrival)
            self._next += 1
            message = {"id": str(self._next), "channel_id": thread, "type": 0}
        return Reply(200, json.dumps(message).encode())

    def thread_of(self, name_part: str) -> str:
        """The id of the one thread whose name holds ``name_part``."""
        (found,) = [t for t, name in self.threads.items() if name_part in name]
        return found
