"""The listener process: wake on NOTIFY, fan events out, and run a worker per owned endpoint.

Three loops share one connection pool:

- *listen*: one dedicated autocommit connection LISTENs; each notification only sets a flag.
  After every (re)connect everything is looked at again, so nothing committed meanwhile waits.
- *dispatch*: claims undispatched events in batches (``FOR UPDATE SKIP LOCKED``) and fans them
  out into delivery rows in the same transaction; also runs on a poll timer and prunes. What it
  fanned out to an endpoint with nothing else pending goes straight to that endpoint's worker.
- *own*: reloads the endpoints on a config change, and takes a session advisory lock per enabled
  endpoint on its own connection; the process holding the lock runs that endpoint's worker.
  When a process dies its session ends, its locks go, and another process takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg import sql as psql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

import sql
from listener import endpoints as endpoint_config
from listener import logs
from listener.endpoints import Endpoint
from listener.http import HttpSender, http_session
from listener.mail import MailSender
from listener.messages import Delivery
from listener.settings import ListenerSettings
from listener.worker import DATABASE_ERRORS, EndpointWorker, Sender
from tiltbob.endpoint_urls import URLCipher
from tiltbob.events import CONFIG_CHANNEL, DELIVERIES_CHANNEL, EVENTS_CHANNEL

# Connections that must notice a vanished peer (the LISTEN and lock connections) use TCP
# keepalives; libpq ignores them on a Unix socket.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


DISPATCH_GAP = 0.005
"""Seconds between the starts of two fan-outs, at least."""


async def _configure(conn: AsyncConnection[Any]) -> None:
    # Losing the last few acknowledgements in a server crash only means sending those
    # deliveries again (at least once); waiting for every flush would cap the throughput.
    await conn.execute("SET synchronous_commit = off")


class Listener:
    def __init__(self, settings: ListenerSettings) -> None:
        self.settings = settings
        self._cipher = URLCipher(settings.secret_keys)
        self._log = logs.get()
        self._stopping = asyncio.Event()
        self._dispatch_wake = asyncio.Event()
        self._config_wake = asyncio.Event()
        self._workers: dict[int, tuple[EndpointWorker, asyncio.Task[None]]] = {}
        self._lock_conn: AsyncConnection[Any] | None = None
        self._endpoints: dict[int, Endpoint] = {}
        self._last_prune: float | None = None  # monotonic; None: prune at the first chance
        self._last_dispatch = 0.0  # monotonic
        # Sent with this process's fan-outs: their tiltbob_deliveries echo is news only to others.
        self._origin = secrets.token_hex(8)

    def stop(self) -> None:
        """Stop claiming; requests in flight finish (or stay pending); then run() returns."""
        if not self._stopping.is_set():
            self._log.info("listener.stopping")
        self._stopping.set()

    async def run(self) -> None:
        s = self.settings
        pool = AsyncConnectionPool(
            s.database_url,
            min_size=2,
            max_size=s.pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": int(s.connect_timeout) or 1,
                "application_name": "tiltbob-listener",
            },
            configure=_configure,
            timeout=10,
            open=False,
            name="tiltbob-listener",
        )
        await pool.open(wait=False)
        try:
            async with http_session(
                connect_timeout=s.connect_timeout, read_timeout=s.read_timeout
            ) as session:
                self._pool = pool
                self._http = HttpSender(session, request_timeout=s.request_timeout)
                self._mail = MailSender(s.smtp, timeout=s.connect_timeout + s.read_timeout)
                loops = [
                    asyncio.create_task(self._listen(), name="listen"),
                    asyncio.create_task(self._dispatch_loop(), name="dispatch"),
                    asyncio.create_task(self._own_loop(), name="own"),
                ]
                self._log.info("listener.started", poll_interval=s.poll_interval)
                await self._stopping.wait()
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
                await self._stop_workers(graceful=True)
                await self._close_lock_conn()
        finally:
            await pool.close()
        self._log.info("listener.stopped")

    # -- waiting -------------------------------------------------------------------------------

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout)):
                await event.wait()
        event.clear()

    async def _retrying(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` forever; a database error is logged and retried with backoff."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await step()
                failures = 0
            except DATABASE_ERRORS as error:
                failures += 1
                delay = min(self.settings.poll_interval, 0.1 * 2**failures)
                self._log.warning(f"{what}.database_unavailable", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
            except Exception:
                # A bug must not silently stop a loop: say so loudly and keep going.
                failures += 1
                self._log.exception(f"{what}.error")
                await asyncio.sleep(min(self.settings.poll_interval, 0.1 * 2**failures))

    # -- listen ----------------------------------------------------------------------------------

    async def _listen(self) -> None:
        disconnected = False
        failures = 0
        while not self._stopping.is_set():
            try:
                async with await self._dedicated_connection("tiltbob-listen") as conn:
                    for channel in (EVENTS_CHANNEL, CONFIG_CHANNEL, DELIVERIES_CHANNEL):
                        await conn.execute(psql.SQL("LISTEN {}").format(psql.Identifier(channel)))
                    if disconnected:
                        self._log.info("listener.reconnected", after_failures=failures)
                    disconnected, failures = False, 0
                    # Catch up on whatever was committed while nobody was listening.
                    self._dispatch_wake.set()
                    self._config_wake.set()
                    self._poke_workers()
                    while True:
                        async for notify in conn.notifies(timeout=self.settings.poll_interval):
                            self._route(notify.channel, notify.payload)
                        # A server gone without a goodbye shows up here, not in notifies().
                        await conn.execute("SELECT 1")
            except DATABASE_ERRORS as error:
                failures += 1
                delay = min(5.0, 0.05 * 2**failures)
                self._log.warning(
                    "listener.disconnected", error=str(error), attempt=failures, retry_in=delay
                )
                disconnected = True
                await asyncio.sleep(delay)
            except Exception:
                failures += 1
                self._log.exception("listener.error")
                disconnected = True
                await asyncio.sleep(min(5.0, 0.05 * 2**failures))

    def _route(self, channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            self._dispatch_wake.set()
        elif channel == CONFIG_CHANNEL:
            self._config_wake.set()
        elif channel == DELIVERIES_CHANNEL and payload != self._origin:
            self._poke_workers()

    def _poke_workers(self, endpoint_ids: list[int] | None = None) -> None:
        for endpoint_id, (worker, _) in self._workers.items():
            if endpoint_ids is None or endpoint_id in endpoint_ids:
                worker.poke()

    # -- dispatch -------------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        self._dispatch_wake.set()
        await self._retrying("dispatch", self._dispatch_step)

    async def _dispatch_step(self) -> None:
        await self._wait(self._dispatch_wake, self.settings.poll_interval)
        # Under a stream of commits, a fan-out per commit would cost more than the rest of the
        # delivery; a short breather lets the next few gather into one. A lone event goes at once.
        breather = self._last_dispatch + DISPATCH_GAP - time.monotonic()
        if breather > 0:
            await asyncio.sleep(breather)
        self._last_dispatch = time.monotonic()
        while not self._stopping.is_set():
            async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    sql.query("dispatch_events"),
                    {"batch": self.settings.dispatch_batch, "origin": self._origin},
                )
                rows = await cur.fetchall()
            events = int(rows[0]["events"])
            endpoint_ids = self._hand_out(rows)
            # Let the workers just handed something send it before this bookkeeping.
            await asyncio.sleep(0)
            if events:
                self._log.info("events.dispatched", events=events, endpoints=len(endpoint_ids))
            if events < self.settings.dispatch_batch:
                break
        await self._prune_if_due()

    def _hand_out(self, rows: list[dict[str, Any]]) -> set[int]:
        """Give each worker of this process what the fan-out wrote for it: the deliveries
        themselves when they are its whole queue, else a poke to read it. Returns the endpoints
        that got deliveries."""
        handed: dict[int, list[Delivery]] = {}
        poked: set[int] = set()
        for row in rows:
            endpoint_id = row.pop("endpoint_id")
            if endpoint_id is None:
                continue  # no deliveries: the row carries the count alone
            del row["events"]
            if not row.pop("handed_off"):
                poked.add(endpoint_id)
            elif endpoint_id in self._workers:
                handed.setdefault(endpoint_id, []).append(Delivery(**row))
            else:
                poked.add(endpoint_id)  # driven by another process: only counted here
        for endpoint_id, deliveries in handed.items():
            self._workers[endpoint_id][0].hand(deliveries)
        self._poke_workers(list(poked))
        return poked | handed.keys()

    async def _prune_if_due(self) -> None:
        now = time.monotonic()
        if self._last_prune is not None and now - self._last_prune < self.settings.prune_interval:
            return
        self._last_prune = now
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.prune_after_days)
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql.query("prune"), {"cutoff": cutoff})
            row = await cur.fetchone()
        if row and (row[0] or row[1]):
            self._log.info(
                "prune.done", deliveries=row[0], events=row[1], cutoff=cutoff.isoformat()
            )

    # -- endpoint ownership --------------------------------------------------------------------

    async def _own_loop(self) -> None:
        self._config_wake.set()
        failures = 0
        while not self._stopping.is_set():
            await self._wait(self._config_wake, self.settings.poll_interval)
            try:
                await self._own_step()
                failures = 0
            except DATABASE_ERRORS as error:
                failures += 1
                # Without the lock connection this process may no longer own its endpoints.
                self._log.warning("ownership.database_unavailable", error=str(error))
                await self._stop_workers(graceful=False)
                await self._close_lock_conn()
                await asyncio.sleep(min(self.settings.poll_interval, 0.1 * 2**failures))
                self._config_wake.set()
            except Exception:
                failures += 1
                self._log.exception("ownership.error")
                await asyncio.sleep(min(self.settings.poll_interval, 0.1 * 2**failures))
                self._config_wake.set()

    async def _own_step(self) -> None:
        async with self._pool.connection() as conn:
            endpoints = await endpoint_config.load(
                conn, self._cipher, allow_http=self.settings.allow_http
            )
        if endpoints != self._endpoints:
            self._log.info("config.loaded", endpoints=len(endpoints))
            for endpoint in endpoints.values():
                if endpoint.refusal and endpoint.enabled:
                    self._log.error(
                        "endpoint.http_refused", endpoint_id=endpoint.id, error=endpoint.refusal
                    )
            self._endpoints = endpoints
        lock_conn = await self._lock_connection()
        wanted = {e.id: e for e in endpoints.values() if e.enabled and not e.refusal}
        for endpoint_id in list(self._workers):
            if endpoint_id not in wanted:
                await self._release(endpoint_id, lock_conn)
        for endpoint_id, endpoint in wanted.items():
            if endpoint_id in self._workers:
                self._workers[endpoint_id][0].update(endpoint)
            elif not self._stopping.is_set():
                await self._try_acquire(endpoint, lock_conn)
        await lock_conn.execute("SELECT 1")

    async def _lock_connection(self) -> AsyncConnection[Any]:
        if self._lock_conn is None or self._lock_conn.closed or self._lock_conn.broken:
            self._lock_conn = await self._dedicated_connection("tiltbob-locks")
        return self._lock_conn

    async def _dedicated_connection(self, name: str) -> AsyncConnection[Any]:
        """An autocommit connection of its own (LISTEN, advisory locks), outside the pool."""
        conninfo = make_conninfo(
            self.settings.database_url,
            application_name=name,
            connect_timeout=int(self.settings.connect_timeout) or 1,
            **KEEPALIVES,
        )
        return await AsyncConnection.connect(conninfo, autocommit=True)

    async def _close_lock_conn(self) -> None:
        if self._lock_conn is not None:
            with contextlib.suppress(*DATABASE_ERRORS):
                await self._lock_conn.close()
            self._lock_conn = None

    async def _try_acquire(self, endpoint: Endpoint, lock_conn: AsyncConnection[Any]) -> None:
        cur = await lock_conn.execute(sql.query("try_lock_endpoint"), {"endpoint_id": endpoint.id})
        row = await cur.fetchone()
        if not (row and row[0]):
            return  # another process drives it
        worker = EndpointWorker(endpoint, self._pool, self._sender_for, self.settings)
        task = asyncio.create_task(worker.run(), name=f"endpoint-{endpoint.id}")
        self._workers[endpoint.id] = (worker, task)
        self._log.info("endpoint.acquired", endpoint_id=endpoint.id, kind=endpoint.kind)

    def _sender_for(self, endpoint: Endpoint) -> Sender:
        return self._mail if endpoint.kind == "email" else self._http

    async def _release(self, endpoint_id: int, lock_conn: AsyncConnection[Any]) -> None:
        worker, task = self._workers.pop(endpoint_id)
        worker.stop()
        await self._finish([task], graceful=True)
        await lock_conn.execute(sql.query("unlock_endpoint"), {"endpoint_id": endpoint_id})
        self._log.info("endpoint.released", endpoint_id=endpoint_id)

    async def _stop_workers(self, *, graceful: bool) -> None:
        workers, self._workers = self._workers, {}
        for worker, _ in workers.values():
            worker.stop()
        await self._finish([task for _, task in workers.values()], graceful=graceful)

    async def _finish(self, tasks: list[asyncio.Task[None]], *, graceful: bool) -> None:
        """Let the requests in flight finish (up to the grace period), then cancel: an abandoned
        delivery stays pending and is sent again by whoever drives its endpoint next."""
        if not tasks:
            return
        if graceful:
            _, late = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace)
        else:
            late = set(tasks)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
