"""``tiltbob deliveries``: the delivery log (``--endpoint``, ``--status``, ``--since``), and
``tiltbob deliveries resend ID…``: send deliveries again, at the tail of their queues."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from webapp.notifications import operations
from webapp.notifications.models import Delivery, DeliveryStatus

_SPAN = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> datetime:
    """``90m``, ``2h``, ``3d`` ago, or a date or time (ISO 8601; local time if no zone)."""
    span = _SPAN.match(text.strip())
    if span:
        return timezone.now() - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    when = parse_datetime(text)
    if when is None and (day := parse_date(text)) is not None:
        when = datetime(day.year, day.month, day.day)
    if when is None:
        raise CommandError(f"--since {text!r}: give 90m, 2h or 3d, or a date like 2026-11-29")
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def describe(d: Delivery) -> dict[str, Any]:
    snap = d.event.snapshot if isinstance(d.event.snapshot, dict) else {}
    return {
        "id": d.pk,
        "event_id": d.event_id,
        "event_type": d.event.type,
        "summary": snap.get("summary"),
        "machine": (snap.get("machine") or {}).get("name"),
        "endpoint_id": d.endpoint_id,
        "endpoint": d.endpoint.name,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat()
        if d.status == DeliveryStatus.PENDING
        else None,
        "created_at": d.created_at.isoformat(),
        "finished_at": d.finished_at.isoformat() if d.finished_at else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "resend": d.resend,
    }


class Command(BaseCommand):
    help = "The delivery log, newest first; `tiltbob deliveries resend ID…` sends some again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", type=int, help="only this endpoint's")
        parser.add_argument("--status", choices=DeliveryStatus.values)
        parser.add_argument("--since", type=str, help="90m, 2h, 3d, or a date or time")
        parser.add_argument("--limit", type=int, default=50, help="at most this many (50)")
        parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
        actions = parser.add_subparsers(dest="action")
        resend = actions.add_parser("resend", help="a new delivery of each, at its queue's tail")
        resend.add_argument("ids", type=int, nargs="+", metavar="ID")
        resend.add_argument("--json", action="store_true", help="print JSON, for scripts")

    def handle(self, *args: Any, action: str | None, **options: Any) -> None:
        if action == "resend":
            self._resend(options["ids"], as_json=options["json"])
        else:
            self._list(**options)

    def _resend(self, ids: list[int], *, as_json: bool) -> None:
        known = set(Delivery.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - known)
        if missing:
            raise CommandError(
                f"no deliveries {', '.join(map(str, missing))}: see `tiltbob deliveries`"
            )
        new = operations.resend(ids)
        if as_json:
            self.stdout.write(json.dumps({"resent": ids, "new": new}, indent=2))
        else:
            self.stdout.write(f"queued again: {', '.join(map(str, new))} (new delivery ids)")

    def _list(
        self,
        *,
        endpoint: int | None,
        status: str | None,
        since: str | None,
        limit: int,
        json: bool,
        **_: Any,
    ) -> None:
        found = Delivery.objects.select_related("event", "endpoint").order_by("-id")
        if endpoint is not None:
            found = found.filter(endpoint_id=endpoint)
        if status:
            found = found.filter(status=status)
        if since:
            found = found.filter(created_at__gte=parse_since(since))
        rows = [describe(d) for d in found[:limit]]
        if json:
            self.stdout.write(_dumps(rows))
            return
        if not rows:
            self.stdout.write("no deliveries match")
            return
        table = [("id", "created", "event", "endpoint", "status", "tries", "last error")]
        for r in rows:
            table.append(
                (
                    str(r["id"]),
                    r["created_at"][:19].replace("T", " "),
                    f"{r['event_type']} {r['machine'] or ''}".strip(),
                    r["endpoint"],
                    r["status"],
                    str(r["attempts"]),
                    (r["last_error"] or "")[:60],
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2)
