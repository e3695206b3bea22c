"""Test messages: sample data of one event type, through the real pipeline, to one endpoint."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from psycopg.types.json import Jsonb

from tiltbob import sqlfiles
from tiltbob.samples import snapshot
from webapp.notifications.models import Endpoint


def send_test_message(endpoint: Endpoint, event_type: str, *, actor: str) -> int:
    """Queue a test message for ``endpoint``; the listener sends it like any other. Returns the
    event's id. The switches do not apply: a test is asked for on purpose."""
    params: dict[str, Any] = {
        "type": event_type,
        "actor": actor,
        "snapshot": Jsonb(snapshot(event_type, test=True)),
        "endpoint_id": endpoint.pk,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sqlfiles.query("enqueue_test_message"), params)
        row = cursor.fetchone()
        cursor.execute(sqlfiles.query("notify_deliveries"))
    assert row is not None
    return int(row[0])
