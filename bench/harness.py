"""The benchmarks' moving parts: a fresh database, the receiver, listeners, yardsticks, writers."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.waiting import wait_until
from tiltbob import database, environment
from tiltbob.catalogue import EVENT_TYPES
from tiltbob.endpoint_urls import URLCipher, mask

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "bench" / "results"
BENCH_DB = "tiltbob_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2) if ms else float("nan"),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


@dataclass
class Bench:
    """One benchmark run: its database, keys and receiver, and the processes it starts."""

    url: str
    keys: str
    receiver_port: int
    workdir: Path
    listeners: int = 0

    # -- environment for the processes we start --------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DATABASE_URL=self.url,
            TILTBOB_SECRET_KEYS=self.keys,
            TILTBOB_ALLOW_HTTP="1",
            TILTBOB_ALLOW_PRIVATE_ENDPOINTS="1",
            TILTBOB_LOG_FORMAT="json",
            SITE_URL="http://127.0.0.1:8000",
        )
        env.update(extra)
        return env

    def receiver_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.receiver_port}{path}"

    # -- database --------------------------------------------------------------------------

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, **kwargs)

    def reset(self) -> None:
        """No endpoints, no events, no deliveries; the receiver forgets."""
        for attempt in range(5):
            try:
                with self.connect() as conn:
                    conn.execute(
                        "TRUNCATE notification_attempts, notification_deliveries,"
                        " notification_endpoint_health, notification_endpoints,"
                        " notification_events, log_entry_maintainers, log_entries,"
                        " problem_reports CASCADE"
                    )
                break
            except psycopg.errors.DeadlockDetected:
                # A listener just started prunes these tables, locking them in another order;
                # PostgreSQL picked this statement to give way: again, once the prune is done.
                if attempt == 4:
                    raise
        urllib.request.urlopen(
            urllib.request.Request(self.receiver_url("/reset"), data=b"", method="POST"), timeout=10
        ).close()

    def add_endpoint(self, name: str, path: str, kind: str = "json", in_flight: int = 1) -> int:
        cipher = URLCipher(self.keys.split(","))
        url = self.receiver_url(path)
        secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        with self.connect() as conn:
            row = conn.execute(
                "INSERT INTO notification_endpoints (name, kind, url_encrypted, url_hint,"
                " secret_encrypted, enabled, event_types, in_flight)"
                " VALUES (%s, %s, %s, %s, %s, true, %s, %s) RETURNING id",
                [
                    name,
                    kind,
                    cipher.encrypt(url),
                    mask(url),
                    cipher.encrypt(secret),
                    list(EVENT_TYPES),
                    in_flight,
                ],
            ).fetchone()
        assert row is not None
        return int(row[0])

    def machine_id(self) -> int:
        with self.connect() as conn:
            row = conn.execute("SELECT id FROM machines ORDER BY id LIMIT 1").fetchone()
        assert row is not None
        return int(row[0])

    # -- writers -------------------------------------------------------------------------------

    def write_reports(
        self, count: int, *, interval: float = 0.0, per_tx: int = 1
    ) -> dict[int, float]:
        """Problem reports from a plain psycopg writer; report id → when COMMIT returned."""
        machine = self.machine_id()
        committed: dict[int, float] = {}
        with self.connect() as conn:
            next_at = time.monotonic()
            for start in range(0, count, per_tx):
                ids = []
                for n in range(start, min(count, start + per_tx)):
                    row = conn.execute(
                        "INSERT INTO problem_reports (machine_id, problem_type, description)"
                        " VALUES (%s, 'stuck_ball', %s) RETURNING id",
                        [machine, f"bench report {n}"],
                    ).fetchone()
                    assert row is not None
                    ids.append(int(row[0]))
                conn.commit()
                now = time.monotonic()
                committed.update(dict.fromkeys(ids, now))
                if interval:
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.monotonic()))
        return committed

    def analyze(self) -> None:
        """Fresh planner statistics after loading a backlog, as autovacuum gives them within a
        minute; without them (this machine's PostgreSQL runs with autovacuum off) the plans
        stay those made for the tables as they were before the load."""
        with self.connect(autocommit=True) as conn:
            conn.execute(
                "ANALYZE problem_reports, notification_events, notification_deliveries,"
                " notification_attempts"
            )

    def bulk_reports(self, count: int, per_tx: int = 10_000) -> list[int]:
        """Many problem reports quickly, ``per_tx`` rows per INSERT … SELECT (the capture still
        runs per row); their ids. For backlogs, where commit times do not matter."""
        machine = self.machine_id()
        ids: list[int] = []
        with self.connect() as conn:
            for start in range(0, count, per_tx):
                rows = conn.execute(
                    "INSERT INTO problem_reports (machine_id, problem_type, description)"
                    " SELECT %s, 'stuck_ball', 'bench report ' || n"
                    " FROM generate_series(1, %s) AS n RETURNING id",
                    [machine, min(per_tx, count - start)],
                ).fetchall()
                conn.commit()
                ids.extend(int(r[0]) for r in rows)
        return ids

    def delivered_history(self, events: int, endpoint_id: int) -> None:
        """``events`` old events, each delivered to the endpoint: the history a busy year
        leaves behind (older than a day, so the prune may take it)."""
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO notification_events (type, actor, snapshot, occurred_at,"
                " fanned_out_at) SELECT 'problem_report.created', 'bench', '{}',"
                " now() - interval '2 days', now() - interval '2 days'"
                " FROM generate_series(1, %s)",
                [events],
            )
            conn.execute(
                "INSERT INTO notification_deliveries (event_id, endpoint_id, status, attempts,"
                " finished_at) SELECT id, %s, 'delivered', 1, now() - interval '2 days'"
                " FROM notification_events WHERE actor = 'bench'",
                [endpoint_id],
            )

    # -- receiver ------------------------------------------------------------------------------

    def _get(self, resource: str, **query: str) -> dict[str, Any]:
        url = self.receiver_url(resource)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def stats(self) -> dict[str, Any]:
        """The receiver's CPU time so far (``cpu_s``)."""
        return self._get("/stats")

    def arrivals(self, path: str) -> dict[int, float]:
        """Report id → first arrival at ``path``."""
        first: dict[int, float] = {}
        for key, at in self._get("/arrivals", path=path)["arrivals"]:
            if key is not None and key not in first:
                first[key] = at
        return first

    def every_arrival(self, path: str) -> list[int | None]:
        """Every report id that arrived at ``path``, repeats included."""
        return [key for key, _ in self._get("/arrivals", path=path)["arrivals"]]

    def wait_arrivals(self, path: str, keys: set[int] | int, timeout: float) -> dict[int, float]:
        """Wait (polling a count, which costs the receiver next to nothing) until ``keys``
        report ids have arrived at ``path``; then their first arrivals."""
        want = keys if isinstance(keys, int) else len(keys)
        wait_until(
            lambda: self._get("/count", path=path)["keys"] >= want,
            timeout=timeout,
            what=f"{want} arrivals at {path}",
        )
        return self.arrivals(path)

    # -- processes -------------------------------------------------------------------------------

    @contextmanager
    def process(
        self, name: str, args: list[str], env: dict[str, str], ready: str | None = None
    ) -> Iterator[subprocess.Popen[bytes]]:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args, env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            if ready:
                wait_until(
                    lambda: proc.poll() is None and ready in log.read_text(errors="replace"),
                    timeout=60,
                    what=f"{name} to be ready",
                )
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    @contextmanager
    def listener(self, *args: str, endpoints: int = 0) -> Iterator[subprocess.Popen[bytes]]:
        """A listener process, ready once it drives ``endpoints`` endpoints."""
        self.listeners += 1
        name = f"listener-{self.listeners}"
        log = self.workdir / f"{name}.log"
        with self.process(
            name,
            [sys.executable, "-m", "tiltbob", "listen", *args],
            self.env(),
            ready="listener.started",
        ) as proc:
            wait_until(
                lambda: log.read_text().count("endpoint.acquired") >= endpoints,
                timeout=30,
                what=f"the listener to drive {endpoints} endpoints",
            )
            yield proc


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def bench_database(workdir: Path) -> Iterator[Bench]:
    """A fresh database on DATABASE_URL's server (or the embedded one), migrated, with a
    machine, and the receiver running."""
    env = environment.load()
    base = database.url(env)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    url = make_conninfo(base, dbname=BENCH_DB)
    keys = Fernet.generate_key().decode()
    port = free_port()
    bench = Bench(url=url, keys=keys, receiver_port=port, workdir=workdir)
    migrated = subprocess.run(
        [sys.executable, "-m", "tiltbob", "migrate", "-v", "0"],
        env=bench.env(DJANGO_SETTINGS_MODULE="bench.djangoq_settings"),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"migrate failed: {migrated.stderr[-2000:]}")
    with bench.connect() as conn:
        conn.execute("INSERT INTO locations (name, slug) VALUES ('Floor 1', 'floor-1')")
        conn.execute(
            "INSERT INTO machines (name, slug, location_id, status)"
            " SELECT 'Medieval Madness', 'medieval-madness', id, 'good' FROM locations"
        )
    with bench.process(
        "receiver", [sys.executable, "-m", "bench.receiver", "--port", str(port)], bench.env()
    ):
        wait_until(lambda: _answers(bench.receiver_url("/stats")), timeout=30, what="the receiver")
        try:
            yield bench
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(BENCH_DB)
                    )
                )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False
