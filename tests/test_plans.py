"""The queries that run per message stay cheap as the history grows: with a long history of
delivered events, the queue reads and the fan-out use their indexes (no scan of the whole
table), checked on the planner's own word — EXPLAIN, and PostgreSQL's scan counters for the
fan-out, whose statements live inside a function — rather than by timing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tiltbob.sqlfiles import query
from webapp.maintenance.models import Machine

HISTORY = 50_000


def add_endpoint(conn: psycopg.Connection[Any], name: str) -> int:
    row = conn.execute(
        "INSERT INTO notification_endpoints (name, kind, url_encrypted, url_hint, event_types)"
        " VALUES (%s, 'json', 'x', 'x', ARRAY['problem_report.created']) RETURNING id",
        [name],
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def history(db_url: str, machine: Machine) -> Iterator[tuple[str, int]]:
    """An endpoint with HISTORY delivered events behind it and a few pending, analysed."""
    with psycopg.connect(db_url) as conn:
        endpoint = add_endpoint(conn, "crew")
        conn.execute(
            "INSERT INTO notification_events (type, actor, snapshot, occurred_at, fanned_out_at)"
            " SELECT 'problem_report.created', 'bench', '{}', now() - interval '2 days',"
            " now() - interval '2 days' FROM generate_series(1, %s)",
            [HISTORY],
        )
        conn.execute(
            "INSERT INTO notification_deliveries (event_id, endpoint_id, status, attempts,"
            " finished_at) SELECT id, %s, 'delivered', 1, now() - interval '2 days'"
            " FROM notification_events WHERE actor = 'bench'",
            [endpoint],
        )
        pending = conn.execute(
            "INSERT INTO notification_events (type, actor, snapshot, fanned_out_at)"
            " SELECT 'problem_report.created', 'bench', '{}', now()"
            " FROM generate_series(1, 5) RETURNING id"
        ).fetchall()
        conn.execute(
            "INSERT INTO notification_deliveries (event_id, endpoint_id)"
            " SELECT unnest(%s::bigint[]), %s",
            [[p[0] for p in pending], endpoint],
        )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE notification_events, notification_deliveries")
    yield db_url, endpoint


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def explain(
    conn: psycopg.Connection[Any], name: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(query(name)), params).fetchone()
    assert row is not None
    return list(_nodes(row[0][0]["Plan"]))


def scanned_whole(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}


def indexes(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Index Name"] for n in nodes if "Index Name" in n}


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("next_deliveries", {"limit": 100, "after": 0}),
        ("due_deliveries", {"limit": 100, "in_hand": [1, 2, 3], "after": 0}),
        ("next_due_at", {}),
    ],
)
def test_an_endpoints_queue_is_read_by_its_index(
    history: tuple[str, int], name: str, params: dict[str, Any]
) -> None:
    url, endpoint_id = history
    with psycopg.connect(url) as conn:
        nodes = explain(conn, name, {"endpoint_id": endpoint_id, **params})
    assert not scanned_whole(nodes) & {"notification_deliveries", "notification_events"}
    assert "notification_deliveries_queue" in indexes(nodes)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("next_deliveries", {"limit": 100, "after": 0}),
        ("due_deliveries", {"limit": 100, "in_hand": [1, 2, 3], "after": 0}),
    ],
)
def test_a_backlog_the_statistics_do_not_know_yet_is_read_by_its_index(
    history: tuple[str, int], name: str, params: dict[str, Any]
) -> None:
    """A new endpoint whose backlog arrived after the last ANALYZE (autovacuum's threshold is a
    tenth of the table): the planner believes it has one row, and the read must still be an
    index range in queue order, not every pending row sorted."""
    url, _ = history
    with psycopg.connect(url) as conn:
        late = add_endpoint(conn, "late")
        conn.execute(
            "INSERT INTO notification_deliveries (event_id, endpoint_id)"
            " SELECT id, %s FROM notification_events WHERE actor = 'bench' LIMIT 20000",
            [late],
        )
        conn.commit()
        nodes = explain(conn, name, {"endpoint_id": late, **params})
    assert not scanned_whole(nodes) & {"notification_deliveries", "notification_events"}
    assert "notification_deliveries_queue" in indexes(nodes)
    assert not [n for n in nodes if n["Node Type"] == "Sort"], "the queue's order is the index's"


def test_the_prune_finds_old_rows_by_index(history: tuple[str, int]) -> None:
    url, _ = history
    with psycopg.connect(url) as conn:
        nodes = explain(conn, "prune", {"cutoff": "2000-01-01", "batch": 5000})
    assert "notification_deliveries" not in scanned_whole(nodes)
    assert "notification_deliveries_done" in indexes(nodes)


def _scans(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(
        "SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables"
        " WHERE relname IN ('notification_events', 'notification_deliveries')"
    ).fetchall()
    return {name: (seq, idx) for name, seq, idx in rows}


def test_the_fan_out_reads_no_whole_table(history: tuple[str, int], machine: Machine) -> None:
    url, _ = history
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(10):
            conn.execute(
                "INSERT INTO problem_reports (machine_id, problem_type, description)"
                " VALUES (%s, 'stuck_ball', %s)",
                [machine.pk, f"new {n}"],
            )
        conn.execute("SELECT pg_stat_force_next_flush()")
        before = _scans(conn)
        fanned = conn.execute(
            "SELECT max(events) FROM tiltbob_fan_out(100, 'test', ARRAY[]::bigint[])"
        ).fetchone()
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")  # a statement after the fan-out's, so its counts are flushed
        after = _scans(conn)
    assert fanned is not None and fanned[0] >= 10
    for table in ("notification_events", "notification_deliveries"):
        assert after[table][0] == before[table][0], f"the fan-out scanned all of {table}"
        assert after[table][1] > before[table][1], f"the fan-out used no index of {table}"


def test_a_long_history_is_pruned_in_short_batches(history: tuple[str, int]) -> None:
    url, _ = history
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(  # an old event no endpoint wanted: no delivery at all
            "INSERT INTO notification_events (type, actor, snapshot, occurred_at, fanned_out_at)"
            " VALUES ('machine.added', 'x', '{}', now() - interval '3 days',"
            " now() - interval '3 days')"
        )
        batches = []
        while True:
            row = conn.execute(
                query("prune"), {"cutoff": datetime.now(UTC) - timedelta(days=1), "batch": 5000}
            ).fetchone()
            assert row is not None
            batches.append(tuple(row))
            if row[0] < 5000 and row[2] < 5000:
                break
        left = conn.execute(
            "SELECT status, count(*) FROM notification_deliveries GROUP BY 1"
        ).fetchall()
        events = conn.execute("SELECT count(*) FROM notification_events").fetchone()
    assert all(deliveries <= 5000 for deliveries, _, _ in batches)
    assert sum(b[0] for b in batches) == HISTORY
    assert sum(b[1] for b in batches) == HISTORY + 1, "each old event, the lonely one too"
    assert left == [("pending", 5)], "what is pending stays"
    assert events == (6,), "the five pending ones', and the machine's not yet fanned out"
