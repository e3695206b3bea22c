"""The listener's way to PostgreSQL: one typed method per named query of ``sql/queries.sql``,
and the two connections that live outside the pool (LISTEN, and the endpoints' advisory locks).

Nothing else in the listener runs SQL; the worker, the fan-out and the ownership loop receive a
``Store`` (or, in the worker's unit tests, a fake with the same methods).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from psycopg import AsyncConnection
from psycopg import sql as psql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from listener.backoff import DATABASE_ERRORS
from listener.messages import Delivery
from tiltbob.sqlfiles import query

# Connections that must notice a vanished peer (the LISTEN and lock connections) use TCP
# keepalives; libpq ignores them on a Unix socket.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


@dataclass(frozen=True)
class FannedOut:
    """What one fan-out wrote."""

    events: int
    """Events claimed and fanned out."""
    whole_queues: dict[int, list[Delivery]]
    """Per endpoint that had nothing else pending: its new deliveries, its whole queue."""
    to_read: set[int]
    """Endpoints with new deliveries behind older ones: their workers read their queues."""

    @property
    def endpoints(self) -> set[int]:
        return self.to_read | self.whole_queues.keys()


@dataclass(frozen=True)
class EndpointRow:
    id: int
    name: str
    kind: str
    url_encrypted: str
    secret_encrypted: str
    enabled: bool
    event_types: list[str]
    in_flight: int
    disable_after: timedelta | None
    hidden_fields: list[str]
    forum: bool
    quiet_period: timedelta | None


@dataclass(frozen=True)
class SettledDelivery:
    """One delivery's share of an attempt, as it is written down."""

    delivery_id: int
    status: str
    """``pending`` (again, from ``next_attempt_at``), ``delivered`` or ``failed``."""
    next_attempt_at: datetime | None
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class HealthChange:
    """What a batch of attempts says of the endpoint's health."""

    any_success: bool
    any_failure: bool
    trailing_failures: int
    """Failed attempts after the batch's last success (all of them, if none succeeded)."""
    last_error: str | None


class QueueStore(Protocol):
    """What an endpoint's worker needs of the database."""

    async def next_deliveries(
        self, endpoint_id: int, limit: int, after: int = 0
    ) -> list[Delivery]: ...

    async def due_deliveries(
        self, endpoint_id: int, limit: int, in_hand: Collection[int], after: int = 0
    ) -> list[Delivery]: ...

    async def next_due_at(self, endpoint_id: int) -> datetime | None: ...

    async def record_outcomes(
        self,
        endpoint_id: int,
        settled: Sequence[SettledDelivery],
        health: HealthChange,
        at: datetime,
    ) -> datetime | None:
        """Write the outcomes down; when the endpoint's current run of failures began (None:
        the batch ended in a success)."""
        ...

    async def disable_failing_endpoint(self, endpoint_id: int, at: datetime) -> int | None:
        """Turn the endpoint off if it has failed long enough as of ``at``: the id of the
        ``endpoint.disabled`` event announcing it, or None when it is not due."""
        ...

    async def thread_of(self, endpoint_id: int, subject: str) -> str | None:
        """The Discord thread a forum endpoint posts ``subject``'s messages into, if any."""
        ...

    async def keep_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None: ...

    async def forget_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None: ...


class EndpointLocks:
    """Session advisory locks, one per driven endpoint, on a connection of their own: the
    process holding an endpoint's lock drives it, and a dead process's locks go with its
    session."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    @property
    def usable(self) -> bool:
        return not (self._conn.closed or self._conn.broken)

    async def try_lock(self, endpoint_id: int) -> bool:
        cur = await self._conn.execute(query("try_lock_endpoint"), {"endpoint_id": endpoint_id})
        row = await cur.fetchone()
        return bool(row and row[0])

    async def unlock(self, endpoint_id: int) -> None:
        await self._conn.execute(query("unlock_endpoint"), {"endpoint_id": endpoint_id})

    async def check(self) -> None:
        """Raise if the connection (and with it every lock) is gone."""
        await self._conn.execute("SELECT 1")

    async def close(self) -> None:
        with suppress(*DATABASE_ERRORS):
            await self._conn.close()


async def _configure(conn: AsyncConnection[Any]) -> None:
    # Losing the last few acknowledgements in a server crash only means sending those
    # deliveries again (at least once); waiting for every flush would cap the throughput.
    await conn.execute("SET synchronous_commit = off")


class Store:
    def __init__(
        self, pool: AsyncConnectionPool[Any], database_url: str, connect_timeout: float
    ) -> None:
        self._pool = pool
        self._database_url = database_url
        self._connect_timeout = int(connect_timeout) or 1

    @classmethod
    @asynccontextmanager
    async def open(
        cls, database_url: str, *, pool_size: int, connect_timeout: float
    ) -> AsyncIterator[Store]:
        """A store on a pool of autocommit connections, closed on the way out. Opening does
        not wait for the database: the loops retry until it answers."""
        pool = AsyncConnectionPool(
            database_url,
            min_size=2,
            max_size=pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": int(connect_timeout) or 1,
                "application_name": "tiltbob-listener",
            },
            configure=_configure,
            timeout=10,
            open=False,
            name="tiltbob-listener",
        )
        await pool.open(wait=False)
        try:
            yield cls(pool, database_url, connect_timeout)
        finally:
            await pool.close()

    async def _dedicated_connection(self, name: str) -> AsyncConnection[Any]:
        """An autocommit connection of its own, outside the pool."""
        conninfo = make_conninfo(
            self._database_url,
            application_name=name,
            connect_timeout=self._connect_timeout,
            **KEEPALIVES,
        )
        return await AsyncConnection.connect(conninfo, autocommit=True)

    async def listening(self, channels: Sequence[str]) -> AsyncConnection[Any]:
        """A connection of its own that LISTENs on ``channels``; the caller closes it."""
        conn = await self._dedicated_connection("tiltbob-listen")
        for channel in channels:
            await conn.execute(psql.SQL("LISTEN {}").format(psql.Identifier(channel)))
        return conn

    async def endpoint_locks(self) -> EndpointLocks:
        return EndpointLocks(await self._dedicated_connection("tiltbob-locks"))

    async def fan_out(self, batch: int, origin: str, driven: Collection[int]) -> FannedOut:
        """Fan out up to ``batch`` events. Other listeners are told (``origin`` comes back on
        the deliveries channel) only of deliveries for endpoints not in ``driven``: those this
        process drives are handed to its workers by the caller."""
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            params = {"batch": batch, "origin": origin, "driven": list(driven)}
            await cur.execute(query("fan_out_events"), params)
            rows = await cur.fetchall()
        events = int(rows[0]["events"])
        whole: dict[int, list[Delivery]] = {}
        to_read: set[int] = set()
        for row in rows:
            endpoint_id = row.pop("endpoint_id")
            if endpoint_id is None:
                continue  # nothing fanned out: the row carries the count alone
            del row["events"]
            if row.pop("handed_off"):
                whole.setdefault(endpoint_id, []).append(Delivery(**row))
            else:
                to_read.add(endpoint_id)
        return FannedOut(events, whole, to_read)

    async def endpoint_rows(self) -> list[EndpointRow]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query("load_endpoints"))
            return [EndpointRow(**row) for row in await cur.fetchall()]

    async def next_deliveries(self, endpoint_id: int, limit: int, after: int = 0) -> list[Delivery]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                query("next_deliveries"),
                {"endpoint_id": endpoint_id, "limit": limit, "after": after},
            )
            return [Delivery(**row) for row in await cur.fetchall()]

    async def due_deliveries(
        self, endpoint_id: int, limit: int, in_hand: Collection[int], after: int = 0
    ) -> list[Delivery]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            params = {"endpoint_id": endpoint_id, "limit": limit, "after": after}
            await cur.execute(query("due_deliveries"), {**params, "in_hand": list(in_hand)})
            return [Delivery(**row) for row in await cur.fetchall()]

    async def next_due_at(self, endpoint_id: int) -> datetime | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(query("next_due_at"), {"endpoint_id": endpoint_id})
            row = await cur.fetchone()
            return row[0] if row else None

    async def record_outcomes(
        self,
        endpoint_id: int,
        settled: Sequence[SettledDelivery],
        health: HealthChange,
        at: datetime,
    ) -> datetime | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                query("record_outcomes"),
                {
                    "ids": [s.delivery_id for s in settled],
                    "statuses": [s.status for s in settled],
                    "next_attempt_ats": [s.next_attempt_at for s in settled],
                    "status_codes": [s.status_code for s in settled],
                    "errors": [s.error for s in settled],
                    "durations": [s.duration_ms for s in settled],
                    "endpoint_id": endpoint_id,
                    "any_success": health.any_success,
                    "any_failure": health.any_failure,
                    "trailing_failures": health.trailing_failures,
                    "last_error": health.last_error,
                    "at": at,
                },
            )
            row = await cur.fetchone()
        failing_since: datetime | None = row[0] if row else None
        return failing_since

    async def disable_failing_endpoint(self, endpoint_id: int, at: datetime) -> int | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                query("disable_failing_endpoint"), {"endpoint_id": endpoint_id, "at": at}
            )
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def thread_of(self, endpoint_id: int, subject: str) -> str | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                query("thread_of"), {"endpoint_id": endpoint_id, "subject": subject}
            )
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def keep_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None:
        params = {"endpoint_id": endpoint_id, "subject": subject, "thread_id": thread_id}
        async with self._pool.connection() as conn:
            await conn.execute(query("keep_thread"), params)

    async def forget_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None:
        params = {"endpoint_id": endpoint_id, "subject": subject, "thread_id": thread_id}
        async with self._pool.connection() as conn:
            await conn.execute(query("forget_thread"), params)

    async def prune(self, cutoff: datetime, batch: int) -> tuple[int, int, bool]:
        """Delete up to ``batch`` finished deliveries older than ``cutoff`` and the fanned-out
        events they leave behind: how many of each, and whether a batch came back full."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(query("prune"), {"cutoff": cutoff, "batch": batch})
            row = await cur.fetchone()
        if not row:
            return 0, 0, False
        deliveries, events, never_sent = (int(v) for v in row)
        return deliveries, events, deliveries >= batch or never_sent >= batch
