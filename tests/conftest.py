"""Fixtures: the test database as a libpq URL, the outbox, and two kinds of writer.

Every test that writes commits for real (``transactional_db``): the capture triggers finish
their work at COMMIT, which a test wrapped in a rolled-back transaction would never reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from webapp.maintenance.models import Location, Machine, MachineStatus, Maintainer


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # poll interval of a deadline-bounded wait


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
