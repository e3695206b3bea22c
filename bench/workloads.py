"""The workloads. Each returns a dict of figures; ``run.py`` puts them in one table."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import Bench, cpu_seconds, latency_summary, peak_rss_mb
from tests.waiting import wait_until
from tiltbob.sqlfiles import query

LATENCY_COUNT = 300
LATENCY_RATES = {"latency": 10, "latency_50_per_s": 50}
"""Events a second: 10, a rate every system here sustains (so the figure is latency, not a
queue), and 50, reported beside it."""
BURST_COUNT = 3000
FANOUT_EVENTS, FANOUT_ENDPOINTS = 1000, 10
CATCHUP_EVENTS = 20_000
IN_FLIGHT = (1, 4, 16)
IN_FLIGHT_CASES = ((0, 10_000), (20, 2_000))
"""(the receiver's answer time in ms, events): on loopback, and as an endpoint far away."""
ISOLATION_COUNT = 200
SCALE_BACKLOGS = (20_000, 200_000)
HISTORY_EVENTS = 1_000_000


def latency(bench: Bench, path: str, per_s: int) -> dict[str, Any]:
    """300 single-row commits at ``per_s`` a second: commit returned → the receiver has the
    POST."""
    committed = bench.write_reports(LATENCY_COUNT, interval=1 / per_s)
    arrived = bench.wait_arrivals(path, set(committed), timeout=120)
    return latency_summary([arrived[k] - committed[k] for k in committed if k in arrived])


def burst(bench: Bench, path: str) -> dict[str, Any]:
    """3,000 commits as fast as one writer goes."""
    started = time.monotonic()
    committed = bench.write_reports(BURST_COUNT)
    last_commit = max(committed.values())
    arrived = bench.wait_arrivals(path, set(committed), timeout=600)
    first_commit = min(committed.values())
    last_arrival = max(arrived[k] for k in committed)
    return {
        "writer_commits_per_s": round(BURST_COUNT / (last_commit - started), 1),
        "deliveries_per_s": round(BURST_COUNT / (last_arrival - first_commit), 1),
        "last_delivery_after_last_commit_s": round(last_arrival - last_commit, 3),
    }


def tiltbob_latency_and_burst(bench: Bench) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with bench.listener() as listener:
        cpu_before = cpu_seconds(listener.pid)
        log = bench.workdir / f"listener-{bench.listeners}.log"

        def fresh_endpoint(acquired: int) -> None:
            bench.reset()
            bench.add_endpoint("bench", "/tiltbob")
            wait_until(
                lambda: log.read_text().count("endpoint.acquired") >= acquired,
                timeout=30,
                what="the listener to take the new endpoint",
            )

        for acquired, (name, per_s) in enumerate(LATENCY_RATES.items(), start=1):
            fresh_endpoint(acquired)
            result[name] = latency(bench, "/tiltbob", per_s)
        fresh_endpoint(len(LATENCY_RATES) + 1)
        receiver_cpu = bench.stats()["cpu_s"]
        result["burst"] = burst(bench, "/tiltbob")
        result["burst"]["receiver_cpu_s"] = round(bench.stats()["cpu_s"] - receiver_cpu, 2)
        result["listener_cpu_s"] = round(cpu_seconds(listener.pid) - cpu_before, 2)
    return result


def fanout(bench: Bench) -> dict[str, Any]:
    """1,000 events to 10 endpoints."""
    bench.reset()
    paths = [f"/fan/{n}" for n in range(FANOUT_ENDPOINTS)]
    for n, path in enumerate(paths):
        bench.add_endpoint(f"fan{n}", path)
    with bench.listener(endpoints=FANOUT_ENDPOINTS) as listener:
        cpu_before, receiver_before = cpu_seconds(listener.pid), bench.stats()["cpu_s"]
        committed = bench.write_reports(FANOUT_EVENTS, per_tx=10)
        first_commit = min(committed.values())
        last = 0.0
        for path in paths:
            arrived = bench.wait_arrivals(path, set(committed), timeout=600)
            last = max(last, max(arrived.values()))
        listener_cpu = cpu_seconds(listener.pid) - cpu_before
    deliveries = FANOUT_EVENTS * FANOUT_ENDPOINTS
    return {
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / (last - first_commit), 1),
        "seconds": round(last - first_commit, 2),
        "listener_cpu_s": round(listener_cpu, 2),
        "receiver_cpu_s": round(bench.stats()["cpu_s"] - receiver_before, 2),
    }


def catchup(bench: Bench) -> dict[str, Any]:
    """20,000 events committed while the listener is stopped, then started: once to a json
    endpoint (a request per event), once to a Discord one (up to ten embeds per request)."""
    result: dict[str, Any] = {"events": CATCHUP_EVENTS}
    for kind in ("json", "discord"):
        bench.reset()
        bench.add_endpoint("catchup", f"/catchup-{kind}", kind=kind)
        committed = bench.write_reports(CATCHUP_EVENTS, per_tx=500)
        bench.analyze()
        started = time.monotonic()
        receiver_before = bench.stats()["cpu_s"]
        with bench.listener() as listener:
            arrived = bench.wait_arrivals(f"/catchup-{kind}", set(committed), timeout=900)
            rss = peak_rss_mb(listener.pid)
            listener_cpu = cpu_seconds(listener.pid)
        last = max(arrived.values())
        result[kind] = {
            "deliveries_per_s": round(CATCHUP_EVENTS / (last - started), 1),
            "seconds": round(last - started, 2),
            "listener_peak_rss_mb": rss,
            "listener_cpu_s": round(listener_cpu, 2),
            "receiver_cpu_s": round(bench.stats()["cpu_s"] - receiver_before, 2),
        }
    return result


def in_flight(bench: Bench) -> dict[str, Any]:
    """A json catch-up at 1, 4 and 16 messages in flight: to a receiver that answers at once,
    and to one that takes 20 ms (an endpoint far away), where one round trip per message caps
    an in-order endpoint."""
    result: dict[str, Any] = {}
    for answer_ms, events in IN_FLIGHT_CASES:
        for n in IN_FLIGHT:
            bench.reset()
            path = f"/slow/{answer_ms}/in-flight-{n}" if answer_ms else f"/in-flight-{n}"
            bench.add_endpoint("in-flight", path, in_flight=n)
            committed = bench.write_reports(events, per_tx=500)
            bench.analyze()
            started = time.monotonic()
            with bench.listener() as listener:
                arrived = bench.wait_arrivals(path, set(committed), timeout=900)
                listener_cpu = cpu_seconds(listener.pid)
            seconds = max(arrived.values()) - started
            result[f"{answer_ms}ms_{n}"] = {
                "answer_ms": answer_ms,
                "in_flight": n,
                "events": events,
                "deliveries_per_s": round(events / seconds, 1),
                "listener_cpu_ms_per_delivery": round(listener_cpu / events * 1000, 3),
            }
    return result


def isolation(bench: Bench) -> dict[str, Any]:
    """A healthy endpoint's latency, alone and beside one that hangs until its timeout."""
    results = {}
    for label, hanging in (("alone", False), ("beside_hanging", True)):
        bench.reset()
        bench.add_endpoint("healthy", "/healthy")
        if hanging:
            bench.add_endpoint("hanging", "/hang/x")
        with bench.listener(
            "--read-timeout", "2", "--retry-first-delay", "0.1", endpoints=2 if hanging else 1
        ):
            committed = bench.write_reports(
                ISOLATION_COUNT, interval=1 / LATENCY_RATES["latency_50_per_s"]
            )
            arrived = bench.wait_arrivals("/healthy", set(committed), timeout=120)
        results[label] = latency_summary([arrived[k] - committed[k] for k in committed])
    return results


def write_cost(bench: Bench) -> dict[str, Any]:
    """Single-row INSERT commits per second into problem_reports, with its triggers and with
    them disabled (the same table, indexes, constraints and foreign keys otherwise).

    The earlier workloads leave dead rows behind: the database is vacuumed and checkpointed
    first; the rounds alternate, so background work weighs on both alike, and the best of five
    counts (each commit waits for its WAL flush, the noisiest part here). Statistics are
    refreshed between rounds, as autovacuum would in a while: the triggers' lookups must not run
    on plans made for a table that was nearly empty."""
    rates: dict[str, Any] = _commit_rates(bench, ("without_triggers", "with_triggers"))
    rates["cost_ratio"] = round(rates["without_triggers"] / rates["with_triggers"], 2)
    return rates


def _commit_rates(bench: Bench, labels: tuple[str, ...], rounds: int = 5) -> dict[str, float]:
    machine = bench.machine_id()
    best: dict[str, list[float]] = {label: [] for label in labels}
    with bench.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    with bench.connect() as conn:
        try:
            for _ in range(rounds):
                conn.execute("ANALYZE problem_reports, notification_events")
                for label in labels:
                    # USER: the capture triggers; the foreign keys' own triggers stay on.
                    toggle = "ENABLE" if label == "with_triggers" else "DISABLE"
                    conn.execute(f"ALTER TABLE problem_reports {toggle} TRIGGER USER")
                    conn.commit()
                    started = time.monotonic()
                    for _ in range(1000):
                        conn.execute(
                            "INSERT INTO problem_reports (machine_id, problem_type, description)"
                            " VALUES (%s, 'stuck_ball', 'cost')",
                            [machine],
                        )
                        conn.commit()
                    best[label].append(1000 / (time.monotonic() - started))
        finally:
            conn.rollback()
            conn.execute("ALTER TABLE problem_reports ENABLE TRIGGER USER")
            conn.commit()
    return {label: round(max(r), 1) for label, r in best.items()}


def scale(bench: Bench) -> dict[str, Any]:
    """Cost as the work grows: a json catch-up of 20,000 and of 200,000 events (rate and the
    listener's peak memory should not depend on the backlog), and the write cost on empty
    tables, beside a million delivered events, and after the prune has taken them."""
    result: dict[str, Any] = {}
    for events in SCALE_BACKLOGS:
        bench.reset()
        bench.add_endpoint("backlog", "/backlog")
        committed = bench.bulk_reports(events)
        bench.analyze()
        started = time.monotonic()
        with bench.listener() as listener:
            arrived = bench.wait_arrivals("/backlog", set(committed), timeout=1800)
            rss = peak_rss_mb(listener.pid)
        result[f"catchup_{events}"] = {
            "events": events,
            "deliveries_per_s": round(events / (max(arrived.values()) - started), 1),
            "listener_peak_rss_mb": rss,
        }
    small, large = (result[f"catchup_{n}"] for n in SCALE_BACKLOGS)
    result["catchup_rate_ratio"] = round(large["deliveries_per_s"] / small["deliveries_per_s"], 3)
    result["catchup_rss_ratio"] = round(
        large["listener_peak_rss_mb"] / small["listener_peak_rss_mb"], 3
    )
    bench.reset()
    endpoint = bench.add_endpoint("history", "/history")
    result["write_empty"] = _commit_rates(bench, ("with_triggers",))["with_triggers"]
    bench.delivered_history(HISTORY_EVENTS, endpoint)
    result["write_with_history"] = _commit_rates(bench, ("with_triggers",))["with_triggers"]
    cutoff = datetime.now(UTC) - timedelta(days=1)
    pruning = time.monotonic()
    with bench.connect(autocommit=True) as conn:
        while True:  # as the listener's prune loop does it, a batch at a time
            row = conn.execute(query("prune"), {"cutoff": cutoff, "batch": 5000}).fetchone()
            if not row or (row[0] < 5000 and row[2] < 5000):
                break
    result["prune_s"] = round(time.monotonic() - pruning, 1)
    result["write_after_prune"] = _commit_rates(bench, ("with_triggers",))["with_triggers"]
    result["history_events"] = HISTORY_EVENTS
    result["write_history_ratio"] = round(result["write_empty"] / result["write_with_history"], 3)
    result["write_pruned_ratio"] = round(result["write_empty"] / result["write_after_prune"], 3)
    return result


@contextmanager
def listeners(bench: Bench, count: int, endpoints: int) -> Iterator[list[Any]]:
    """``count`` listener processes, ready once they drive ``endpoints`` endpoints between
    them."""
    with ExitStack() as stack:
        started = [stack.enter_context(bench.listener()) for _ in range(count)]
        logs = [bench.workdir / f"listener-{bench.listeners - n}.log" for n in range(count)]
        wait_until(
            lambda: sum(log.read_text().count("endpoint.acquired") for log in logs) >= endpoints,
            timeout=30,
            what=f"{count} listeners to drive {endpoints} endpoints",
        )
        yield started


def two_listeners(bench: Bench) -> dict[str, Any]:
    """One listener process against two, on the fan-out (1,000 events to 10 endpoints) and a
    json catch-up (2,000 events to each of 10 endpoints): deliveries/s, and no delivery twice."""
    result: dict[str, Any] = {}
    for count in (1, 2):
        bench.reset()
        paths = [f"/two/{n}" for n in range(FANOUT_ENDPOINTS)]
        for n, path in enumerate(paths):
            bench.add_endpoint(f"two{n}", path)
        with listeners(bench, count, FANOUT_ENDPOINTS):
            committed = bench.write_reports(FANOUT_EVENTS, per_tx=10)
            first = min(committed.values())
            last = max(
                max(bench.wait_arrivals(path, set(committed), timeout=600).values())
                for path in paths
            )
        fanout_rate = FANOUT_EVENTS * FANOUT_ENDPOINTS / (last - first)
        twice = sum(len(bench.every_arrival(p)) for p in paths) - FANOUT_EVENTS * len(paths)
        bench.reset()
        for n, path in enumerate(paths):
            bench.add_endpoint(f"two{n}", path)
        backlog = bench.bulk_reports(2_000)
        bench.analyze()
        started = time.monotonic()
        with listeners(bench, count, 0):
            last = max(
                max(bench.wait_arrivals(path, set(backlog), timeout=600).values()) for path in paths
            )
        catchup_rate = len(backlog) * len(paths) / (last - started)
        twice += sum(len(bench.every_arrival(p)) for p in paths) - len(backlog) * len(paths)
        result[f"{count}_listeners"] = {
            "fanout_per_s": round(fanout_rate, 1),
            "catchup_per_s": round(catchup_rate, 1),
            "sent_twice": twice,
        }
    return result


@contextmanager
def floor_notify(bench: Bench) -> Any:
    with bench.connect() as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION bench_floor_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN PERFORM pg_notify('bench_floor', NEW.id::text); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER bench_floor AFTER INSERT ON problem_reports"
            " FOR EACH ROW EXECUTE FUNCTION bench_floor_notify()"
        )
    try:
        yield
    finally:
        with bench.connect() as conn:
            conn.execute("DROP TRIGGER IF EXISTS bench_floor ON problem_reports")


def floor(bench: Bench) -> dict[str, Any]:
    """The bare floor: LISTEN/NOTIFY → re-read → aiohttp POST."""
    bench.reset()
    with (
        floor_notify(bench),
        bench.process(
            "floor",
            [sys.executable, "-m", "bench.floor", bench.url, bench.receiver_url("/floor")],
            bench.env(),
            ready="floor.ready",
        ),
    ):
        result: dict[str, Any] = {}
        for name, per_s in LATENCY_RATES.items():
            bench.reset()
            result[name] = latency(bench, "/floor", per_s)
        bench.reset()
        result["burst"] = burst(bench, "/floor")
    return result


def djangoq(bench: Bench) -> dict[str, Any]:
    """Django post_save + on_commit + django-q2 (ORM broker) + httpx, written by the Django ORM,
    configured as django-q2's documentation recommends (bench/djangoq_settings.py)."""
    bench.reset()
    env = bench.env(
        DJANGO_SETTINGS_MODULE="bench.djangoq_settings",
        BENCH_RECEIVER_URL=bench.receiver_url("/djangoq"),
    )
    with bench.process(
        "qcluster", [sys.executable, "-m", "tiltbob", "qcluster"], env, ready="running"
    ):
        result: dict[str, Any] = {}
        for name in LATENCY_RATES:
            bench.reset()
            result[name] = _django_run(bench, env, name)
        bench.reset()
        result["burst"] = _django_run(bench, env, "burst")
    return result


def _django_run(bench: Bench, env: dict[str, str], workload: str) -> dict[str, Any]:
    import json
    import subprocess

    from bench.harness import PROJECT

    done = subprocess.run(
        [sys.executable, "-m", "bench.django_writer", workload],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    committed = {int(k): v for k, v in json.loads(done.stdout)["committed"].items()}
    timeout = 900
    arrived = bench.wait_arrivals("/djangoq", set(committed), timeout=timeout)
    if workload in LATENCY_RATES:
        return latency_summary([arrived[k] - committed[k] for k in committed])
    started = json.loads(done.stdout)["started"]
    last_commit, first_commit = max(committed.values()), min(committed.values())
    last_arrival = max(arrived[k] for k in committed)
    return {
        "writer_commits_per_s": round(len(committed) / (last_commit - started), 1),
        "deliveries_per_s": round(len(committed) / (last_arrival - first_commit), 1),
        "last_delivery_after_last_commit_s": round(last_arrival - last_commit, 3),
    }


def http_cpu(bench: Bench) -> dict[str, Any]:
    """CPU per POST of each HTTP client, to the same receiver (bench/http_cpu.py)."""
    from bench import http_cpu as clients

    return dict(clients.measure(bench.receiver_url("/http-cpu")))


def public_form(bench: Bench) -> dict[str, Any]:
    """50 visitors posting the public form for a minute through the real web server, with a
    listener delivering to a json endpoint (bench/public_form.py)."""
    import asyncio

    from bench import public_form as visitors
    from bench.harness import free_port

    bench.reset()
    with bench.connect() as conn:
        conn.execute("TRUNCATE visitor_submissions")
        location = conn.execute("SELECT id FROM locations ORDER BY id LIMIT 1").fetchone()
        assert location is not None
        for n in range(visitors.MACHINES):
            conn.execute(
                "INSERT INTO machines (name, slug, location_id, status) VALUES (%s, %s, %s, 'good')"
                " ON CONFLICT (slug) DO NOTHING",
                [f"Load {n}", f"load-{n}", location[0]],
            )
    bench.add_endpoint("form", "/form")
    slugs = [f"load-{n}" for n in range(visitors.MACHINES)]
    port = free_port()
    env = bench.env(SITE_URL=f"http://127.0.0.1:{port}", TILTBOB_TRUSTED_PROXIES="127.0.0.1")
    web = [sys.executable, "-m", "tiltbob", "run", "--no-listener", "--port", str(port)]
    with bench.process("web", web, env, ready="serving"), bench.listener(endpoints=1):
        started = time.monotonic()
        tally = asyncio.run(visitors.load(f"http://127.0.0.1:{port}", slugs))
        wall = time.monotonic() - started
        with bench.connect() as conn:
            accepted = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM problem_reports WHERE machine_id IN"
                    " (SELECT id FROM machines WHERE slug LIKE 'load-%%')"
                ).fetchall()
            ]
            events = conn.execute(
                "SELECT count(*), count(DISTINCT problem_report_id) FROM notification_events"
                " WHERE type = 'problem_report.created' AND problem_report_id = ANY(%s)",
                [accepted],
            ).fetchone()
        arrived = bench.wait_arrivals("/form", set(accepted), timeout=120) if accepted else {}
        every = bench.every_arrival("/form")
    latencies = sorted(tally["latencies"])
    delivered = [key for key in every if key in set(accepted)]
    statuses = {str(k): v for k, v in sorted(tally["statuses"].items())}
    return {
        "visitors": visitors.VISITORS,
        "seconds": round(wall, 1),
        "posts": len(latencies),
        "statuses": statuses,
        "server_errors": sum(v for k, v in tally["statuses"].items() if k >= 500),
        "accepted_reports": len(accepted),
        "outbox_events": events[0] if events else 0,
        "outbox_events_distinct": events[1] if events else 0,
        "delivered": len(delivered),
        "delivered_distinct": len(set(delivered)),
        "delivered_all": set(arrived) >= set(accepted),
        "post_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "post_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1)
        if latencies
        else None,
    }
