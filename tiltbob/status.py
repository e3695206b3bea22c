"""``tiltbob status``: per endpoint, what waits and how it has been going."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row

from tiltbob import database, environment, sqlfiles
from tiltbob.endpoint_urls import tidy_error


def _age(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "never"


def report(conn: psycopg.Connection[Any], out: TextIO) -> None:
    with conn.cursor(row_factory=dict_row) as cur:
        waiting = cur.execute(sqlfiles.query("waiting_events")).fetchone() or {}
        rows = cur.execute(sqlfiles.query("endpoint_status")).fetchall()
    out.write(
        f"events waiting for a listener: {waiting.get('events', 0)}"
        f" (oldest {_age(waiting.get('oldest_age'))})\n\n"
    )
    header = (
        "id",
        "name",
        "kind",
        "on",
        "url",
        "pending",
        "oldest",
        "last success",
        "failures",
        "failed",
        "last error",
    )
    table = [header]
    for r in rows:
        table.append(
            (
                str(r["id"]),
                r["name"],
                r["kind"],
                "yes" if r["enabled"] else "no",
                r["url_hint"],
                str(r["pending"]),
                _age(r["oldest_pending_age"]),
                _when(r["last_success_at"]),
                str(r["consecutive_failures"]),
                str(r["failed"]),
                tidy_error(r["last_error"] or "", 60),
            )
        )
    if len(table) == 1:
        out.write("no endpoints: add one with `tiltbob endpoints add`\n")
        return
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )


def report_json(conn: psycopg.Connection[Any], out: TextIO) -> None:
    with conn.cursor(row_factory=dict_row) as cur:
        waiting = cur.execute(sqlfiles.query("waiting_events")).fetchone() or {}
        rows = cur.execute(sqlfiles.query("endpoint_status")).fetchall()

    def seconds(value: timedelta | None) -> float | None:
        return round(value.total_seconds(), 3) if value is not None else None

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    data = {
        "events_waiting": waiting.get("events", 0),
        "oldest_event_age_s": seconds(waiting.get("oldest_age")),
        "endpoints": [
            {
                "id": r["id"],
                "name": r["name"],
                "kind": r["kind"],
                "enabled": r["enabled"],
                "url": r["url_hint"],
                "pending": r["pending"],
                "oldest_pending_age_s": seconds(r["oldest_pending_age"]),
                "last_success_at": when(r["last_success_at"]),
                "last_failure_at": when(r["last_failure_at"]),
                "consecutive_failures": r["consecutive_failures"],
                "failed": r["failed"],
                "last_error": tidy_error(r["last_error"]) if r["last_error"] else None,
            }
            for r in rows
        ],
    }
    out.write(json.dumps(data, indent=2) + "\n")


def check(conn: psycopg.Connection[Any], out: TextIO, *, grace: float) -> int:
    """0 when a listener is connected and no enabled endpoint has had deliveries due for longer
    than ``grace`` seconds; else 1, saying what is wrong (for health checks)."""
    with conn.cursor(row_factory=dict_row) as cur:
        sessions = cur.execute(sqlfiles.query("listener_sessions")).fetchone() or {}
        stuck = cur.execute(sqlfiles.query("stuck_endpoints"), {"grace": grace}).fetchall()
    problems = []
    if not sessions.get("listeners"):
        problems.append("no listener is connected to this database (no tiltbob-listen session)")
    for row in stuck:
        problems.append(
            f"endpoint {row['id']} ({row['name']}) has deliveries due since"
            f" {_when(row['due_since'])} and nothing sends them"
        )
    if problems:
        out.write("".join(f"not ok: {p}\n" for p in problems))
        return 1
    out.write(f"ok: {sessions['listeners']} listener(s) connected, no endpoint stuck\n")
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tiltbob status", description="Per endpoint: what waits and how it has been going."
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 1 unless a listener is connected and no endpoint is stuck",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=300.0,
        help="--check: how long deliveries may be due before their endpoint counts as stuck (s)",
    )
    options = parser.parse_args(argv)
    env = environment.load()
    try:
        with psycopg.connect(database.url(env), connect_timeout=5) as conn:
            if options.check:
                return check(conn, sys.stdout, grace=options.grace)
            (report_json if options.json else report)(conn, sys.stdout)
    except psycopg.OperationalError as error:
        if not options.check:
            raise
        sys.stdout.write(f"not ok: the database cannot be reached: {tidy_error(str(error))}\n")
        return 1
    return 0
