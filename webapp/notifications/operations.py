"""What the admin and the commands do to the notifier's tables, which the SQL owns: every write
goes through a named query of ``sql/queries.sql``, and wakes the listeners' workers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from psycopg.types.json import Jsonb

from tiltbob import sqlfiles
from tiltbob.samples import snapshot
from webapp.notifications.models import Delivery, DeliveryStatus, Endpoint

NO_LISTENER_AFTER = timedelta(seconds=10)
"""A test message nobody has tried to send after this long: no listener is driving it."""


def _run(name: str, params: dict[str, Any]) -> list[Any]:
    """Run a named query and wake the workers, in one transaction; the first column's values."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sqlfiles.query(name), params)
        rows = [row[0] for row in cursor.fetchall()]
        cursor.execute(sqlfiles.query("notify_deliveries"))
    return rows


def send_test_message(endpoint: Endpoint, event_type: str, *, actor: str) -> int:
    """Queue a test message for ``endpoint``; the listener sends it like any other. Returns the
    event's id. The switches do not apply: a test is asked for on purpose."""
    [event_id] = _run(
        "enqueue_test_message",
        {
            "type": event_type,
            "actor": actor,
            "snapshot": Jsonb(snapshot(event_type, test=True)),
            "endpoint_id": endpoint.pk,
        },
    )
    return int(event_id)


def resend(delivery_ids: Sequence[int]) -> list[int]:
    """A new delivery of each one's event to its endpoint, at the tail; the new ids."""
    return [int(i) for i in _run("resend_deliveries", {"ids": list(delivery_ids)})]


HELD_CHOICES = ("send", "drop")
"""What becomes of an endpoint's held-back deliveries when it is enabled again."""

DROPPED = "dropped when the endpoint was enabled again"


@dataclass(frozen=True)
class HeldBack:
    """The deliveries a disabled endpoint holds back (pending, waiting for it to be enabled)."""

    count: int
    oldest: datetime | None


def held_back(endpoint: Endpoint) -> HeldBack:
    pending = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
    found = pending.aggregate(count=Count("id"), oldest=Min("created_at"))
    return HeldBack(found["count"], found["oldest"])


def enable(endpoint: Endpoint, held: str) -> int:
    """Enable ``endpoint`` and send what it held back, in order and as if queued now (``send``),
    or drop it (``drop``: failed, with the reason). Returns how many deliveries that was."""
    if held not in HELD_CHOICES:
        raise ValueError(f"held-back deliveries are sent or dropped, not {held!r}")
    with transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(enabled=True)
        ids = _run(
            "settle_held_back", {"endpoint_id": endpoint.pk, "fate": held, "reason": DROPPED}
        )
    endpoint.refresh_from_db()
    return len(ids)


def retry_now(delivery_ids: Sequence[int]) -> list[int]:
    """Pending deliveries waiting out a backoff become due now; the ids changed."""
    return [int(i) for i in _run("retry_now", {"ids": list(delivery_ids)})]


@dataclass(frozen=True)
class TestMessageResult:
    state: str
    """``waiting``, ``delivered``, ``retrying``, ``failed`` or ``no_listener``."""
    text: str

    @property
    def final(self) -> bool:
        return self.state != "waiting"


def result_of_test_message(
    endpoint: Endpoint, event_id: int, now: datetime | None = None
) -> TestMessageResult:
    """What became of a test message, in words fit for the page (never the URL)."""
    now = now or timezone.now()
    delivery = (
        Delivery.objects.filter(event_id=event_id, endpoint=endpoint)
        .prefetch_related("attempt_set")
        .order_by("id")
        .first()
    )
    if delivery is None:
        return TestMessageResult("failed", "No such test message for this endpoint.")
    attempts = sorted(delivery.attempt_set.all(), key=lambda a: a.id)
    last = attempts[-1] if attempts else None
    if delivery.status == DeliveryStatus.DELIVERED and last is not None:
        return TestMessageResult(
            "delivered",
            f"Delivered: HTTP {last.status_code or 'OK'} in {last.duration_ms:.0f} ms, "
            f"at {timezone.localtime(last.attempted_at):%H:%M:%S}.",
        )
    if delivery.status == DeliveryStatus.FAILED:
        return TestMessageResult("failed", f"Failed: {delivery.last_error or 'no reason given'}.")
    # The delivery's own counter, not the attempt rows: those are read by a second query, and
    # an attempt recorded in between would pair a fresh attempt with a stale delivery row.
    if delivery.attempts > 0:
        return TestMessageResult(
            "retrying",
            f"Not delivered: {delivery.last_error or 'no reason given'}. The listener tries "
            f"again at {timezone.localtime(delivery.next_attempt_at):%H:%M:%S}.",
        )
    if not endpoint.enabled:
        return TestMessageResult(
            "no_listener", "The endpoint is disabled: the message goes out once it is enabled."
        )
    if now - delivery.created_at > NO_LISTENER_AFTER:
        return TestMessageResult(
            "no_listener",
            f"No listener picked it up within {NO_LISTENER_AFTER.seconds} s. Is `tiltbob listen`"
            " (or `tiltbob run`) running against this database? Does its log say the endpoint"
            " is refused (plain http:// without TILTBOB_ALLOW_HTTP)? `tiltbob status` shows"
            " the queue.",
        )
    return TestMessageResult("waiting", "Waiting for the listener…")
