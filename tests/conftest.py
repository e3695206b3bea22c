"""Fixtures: the test database as a libpq URL, the outbox, and two kinds of writer.

Every test that writes commits for real (``transactional_db``): the capture triggers finish
their work at COMMIT, which a test wrapped in a rolled-back transaction would never reach.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from tests.receiver import Receiver
from tests.waiting import wait_until
from tiltbob.catalogue import EVENT_TYPES
from webapp.maintenance.models import Location, Machine, MachineStatus, Maintainer
from webapp.notifications.models import DISABLE_AFTER, Endpoint

if TYPE_CHECKING:
    from tests.processes import ListenerProcess

__all__ = ["wait_until"]


LISTENER_TABLES = (
    "notification_attempts, notification_deliveries, notification_endpoint_health,"
    " notification_events"
)


@pytest.fixture(autouse=True)
def _clear_sql_owned_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty the tables the SQL files own (Django's flush does not know them, and their
    foreign keys would stop it) before Django flushes its own after a transactional test."""
    if "transactional_db" not in request.fixturenames and "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {LISTENER_TABLES}")


@pytest.fixture
def db_url(transactional_db: None) -> str:
    """The test database, as a libpq connection string usable by psycopg, psql and subprocesses."""
    s = connection.settings_dict
    params = {
        "dbname": s["NAME"],
        "host": s["HOST"] or None,
        "port": s["PORT"] or None,
        "user": s["USER"] or None,
        "password": s["PASSWORD"] or None,
        **s["OPTIONS"],
    }
    return make_conninfo(**{k: v for k, v in params.items() if v})


class Outbox:
    """The events written since this object was made."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.mark = self._scalar("SELECT coalesce(max(id), 0) FROM notification_events")

    def _scalar(self, query: str) -> Any:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(query).fetchone()
            assert row is not None
            return row[0]

    def new(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            return conn.execute(
                "SELECT * FROM notification_events WHERE id > %s ORDER BY id", [self.mark]
            ).fetchall()

    def one(self) -> dict[str, Any]:
        events = self.new()
        assert len(events) == 1, (
            f"expected exactly one new event, got {[e['type'] for e in events]}"
        )
        return events[0]


@pytest.fixture
def outbox(db_url: str, machine: Machine, other_location: Location) -> Outbox:
    """Created after the machine fixtures, so their own machine.added events are not counted."""
    return Outbox(db_url)


@pytest.fixture
def location(transactional_db: None) -> Location:
    return Location.objects.create(name="Floor 1", slug="floor-1", sort_order=1)


@pytest.fixture
def other_location(transactional_db: None) -> Location:
    return Location.objects.create(name="Floor 2", slug="floor-2", sort_order=2)


@pytest.fixture
def machine(location: Location) -> Machine:
    return Machine.objects.create(
        name="Medieval Madness",
        slug="medieval-madness",
        location=location,
        status=MachineStatus.GOOD,
    )


@dataclass
class Person:
    username: str
    password: str
    maintainer: Maintainer


def make_person(username: str, display_name: str, *, superuser: bool = False) -> Person:
    password = f"pw-{username}-0123456789"
    users = get_user_model()
    make = users.objects.create_superuser if superuser else users.objects.create_user
    user = make(username=username, password=password)
    return Person(
        username, password, Maintainer.objects.create(user=user, display_name=display_name)
    )


@pytest.fixture
def ana(transactional_db: None) -> Person:
    return make_person("ana", "Ana Martins", superuser=True)


@pytest.fixture
def ben(transactional_db: None) -> Person:
    return make_person("ben", "Ben Okafor")


@pytest.fixture
def ana_client(ana: Person) -> Client:
    client = Client()
    client.force_login(ana.maintainer.user)
    return client


@pytest.fixture
def raw(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain psycopg connection, as a script or psql session would have."""
    with psycopg.connect(db_url) as conn:
        yield conn


# -- the listener and its endpoints ---------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@dataclass
class Hook:
    """An endpoint pointing at the receiver; its URL's last segment is a secret token."""

    endpoint: Endpoint
    path: str
    token: str


@pytest.fixture
def secret_tokens() -> list[str]:
    return []


@pytest.fixture
def make_hook(
    receiver: Receiver, secret_tokens: list[str], transactional_db: None
) -> Callable[..., Hook]:
    def make(
        name: str,
        events: str | list[str] = "all",
        *,
        enabled: bool = True,
        kind: str = "",
        in_flight: int = 1,
        disable_after: timedelta | None = DISABLE_AFTER,
    ) -> Hook:
        token = f"tok{uuid.uuid4().hex}"
        secret_tokens.append(token)
        path = f"/hooks/{name}/{token}"
        endpoint = Endpoint(
            name=name,
            kind=kind,
            event_types=list(EVENT_TYPES) if events == "all" else list(events),
            enabled=enabled,
            in_flight=in_flight,
            disable_after=disable_after,
        )
        endpoint.set_url(receiver.url(path))
        endpoint.save()
        return Hook(endpoint, path, token)

    return make


@pytest.fixture
def start_listener(
    db_url: str, tmp_path: Path, secret_tokens: list[str]
) -> Iterator[Callable[..., ListenerProcess]]:
    """Start listener processes; at the end, stop them and check that no log line of theirs
    holds a URL's secret part, and that none of their loops hit a bug (``<loop>.error``)."""
    started: list[ListenerProcess] = []

    def start(
        *args: str, env: dict[str, str] | None = None, clock: Path | None = None
    ) -> ListenerProcess:
        from tests.processes import ListenerProcess

        log = tmp_path / f"listener-{len(started)}.log"
        process = ListenerProcess(db_url, log, *args, env=env, clock=clock)
        started.append(process)
        process.wait_for("listener.started")
        return process

    yield start
    for process in started:
        process.kill(signal.SIGTERM)
    for process in started:
        text = process.log_text()
        for token in secret_tokens:
            assert token not in text, f"a URL's secret part was logged in {process.log_path}"
        bugs = [line for line in process.log() if str(line.get("event")).endswith(".error")]
        assert not bugs, f"{process.log_path}: {bugs[0]}"


def delivery_statuses(db_url: str, endpoint_id: int) -> dict[str, int]:
    """How many of the endpoint's deliveries are in each status."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM notification_deliveries WHERE endpoint_id = %s"
            " GROUP BY status",
            [endpoint_id],
        ).fetchall()
    return {status: int(count) for status, count in rows}


def insert_reports(
    db_url: str, machine: Machine, count: int, *, per_transaction: int = 1
) -> list[int]:
    """Problem reports inserted by a plain psycopg writer; returns their events' ids."""
    report_ids: list[int] = []
    with psycopg.connect(db_url) as conn:
        for start in range(0, count, per_transaction):
            with conn.transaction():
                for n in range(start, min(count, start + per_transaction)):
                    row = conn.execute(
                        "INSERT INTO problem_reports (machine_id, problem_type, description)"
                        " VALUES (%s, 'stuck_ball', %s) RETURNING id",
                        [machine.pk, f"report {n}"],
                    ).fetchone()
                    assert row is not None
                    report_ids.append(row[0])
        rows = conn.execute(
            "SELECT id FROM notification_events"
            " WHERE type = 'problem_report.created' AND problem_report_id = ANY(%s) ORDER BY id",
            [report_ids],
        ).fetchall()
    return [r[0] for r in rows]
