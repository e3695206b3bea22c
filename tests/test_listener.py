"""The listener as a real process against a real PostgreSQL and a real HTTP receiver."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg.rows import dict_row

from listener.worker import UNRECORDED_AT_MOST
from tests.conftest import Hook, insert_reports
from tests.processes import ListenerProcess, psql
from tests.receiver import Receiver, Reply
from tests.waiting import wait_until
from webapp.maintenance.models import Machine
from webapp.notifications.models import Switch

StartListener = Callable[..., ListenerProcess]
MakeHook = Callable[..., Hook]


def delivery(db_url: str, event_id: int, hook: Hook) -> dict[str, Any] | None:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM notification_deliveries WHERE event_id = %s AND endpoint_id = %s",
            [event_id, hook.endpoint.pk],
        ).fetchone()


def attempts(db_url: str, delivery_id: int) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM notification_attempts WHERE delivery_id = %s ORDER BY id", [delivery_id]
        ).fetchall()


def dispatched(db_url: str, event_id: int) -> bool:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT fanned_out_at IS NOT NULL FROM notification_events WHERE id = %s", [event_id]
        ).fetchone()
    return bool(row and row[0])


def test_a_row_inserted_by_psql_reaches_the_receiver(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("crew")
    listener = start_listener()
    listener.wait_for("endpoint.acquired", endpoint_id=hook.endpoint.pk)
    result = psql(
        db_url,
        "INSERT INTO problem_reports (machine_id, problem_type, description, reporter_name)"
        f" VALUES ({machine.pk}, 'stuck_ball', 'Ball stuck in the castle', 'Zoe')",
    )
    assert result.returncode == 0, result.stderr

    arrival = wait_until(
        lambda: [a for a in receiver.at(hook.path) if a.json["type"] == "problem_report.created"],
        what="the POST",
    )[0]
    body = arrival.json
    assert arrival.webhook_id == body["id"]
    assert body["data"]["problem_report"]["description"] == "Ball stuck in the castle"
    assert body["data"]["url"].endswith(f"/problem-reports/{body['data']['problem_report']['id']}/")
    record = wait_until(
        lambda: (d := delivery(db_url, int(body["id"]), hook)) and d["status"] == "delivered" and d,
        what="the delivery to be recorded",
    )
    assert record["attempts"] == 1 and record["last_status_code"] == 200
    assert listener.logged("delivery.sent", event_id=int(body["id"]))


def test_switches_and_disabled_endpoints_take_effect_without_restart(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    crew = make_hook("crew")
    listener = start_listener()
    listener.wait_for("endpoint.acquired", endpoint_id=crew.endpoint.pk)

    def insert_one() -> int:
        return insert_reports(db_url, machine, 1)[0]

    # Endpoint disabled: the event is fanned out, but not to it.
    crew.endpoint.enabled = False
    crew.endpoint.save()
    event = insert_one()
    wait_until(lambda: dispatched(db_url, event), what="fan-out")
    assert delivery(db_url, event, crew) is None
    listener.wait_for("endpoint.released", endpoint_id=crew.endpoint.pk)

    crew.endpoint.enabled = True
    crew.endpoint.save()
    event = insert_one()
    wait_until(lambda: event in receiver.event_ids(crew.path), what="delivery after enabling")

    # The event type switched off.
    Switch.turn("problem_report.created", False)
    event = insert_one()
    wait_until(lambda: dispatched(db_url, event), what="fan-out")
    assert delivery(db_url, event, crew) is None
    Switch.turn("problem_report.created", True)

    # The master switch off.
    Switch.turn("master", False)
    event = insert_one()
    wait_until(lambda: dispatched(db_url, event), what="fan-out")
    assert delivery(db_url, event, crew) is None
    Switch.turn("master", True)

    event = insert_one()
    wait_until(lambda: event in receiver.event_ids(crew.path), what="delivery with all on")
    assert listener.running
    assert len(listener.logged("listener.started")) == 1


def test_sigkill_in_the_middle_of_a_burst_loses_nothing(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("crew", ["problem_report.created"])
    first = start_listener()
    first.wait_for("endpoint.acquired")
    events = insert_reports(db_url, machine, 500, per_transaction=5)

    wait_until(lambda: len(receiver.at(hook.path)) >= 100, what="a fifth of the burst")
    first.kill(signal.SIGKILL)
    received_before = len(receiver.at(hook.path))
    assert received_before < 500, "the burst was over before the kill: nothing was tested"

    second = start_listener()
    wait_until(
        lambda: set(receiver.event_ids(hook.path)) >= set(events),
        timeout=60,
        what="all 500 deliveries",
    )
    ids = receiver.event_ids(hook.path)
    duplicates = [event for event, n in Counter(ids).items() if n > 1]
    # At most the outcomes not yet written down and the request in flight at the kill are sent
    # twice, with the same id.
    assert len(duplicates) <= UNRECORDED_AT_MOST + 1, duplicates
    for arrival in receiver.at(hook.path):
        assert arrival.webhook_id == arrival.json["id"]
    assert second.logged("delivery.sent")


def terminate_backends(db_url: str, application_name: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            [application_name],
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_listen_connection_terminated_recovers_by_itself(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("crew", ["problem_report.created"])
    listener = start_listener()
    listener.wait_for("endpoint.acquired")
    assert terminate_backends(db_url, "tiltbob-listen") == 1
    # Committed while the listener may be reconnecting: not lost.
    events = insert_reports(db_url, machine, 20)
    listener.wait_for("listener.reconnected")
    wait_until(lambda: set(receiver.event_ids(hook.path)) >= set(events), what="the 20 events")

    # Every connection of the listener at once (pool, locks, LISTEN).
    terminate_backends(db_url, "tiltbob-listener")
    terminate_backends(db_url, "tiltbob-locks")
    terminate_backends(db_url, "tiltbob-listen")
    more = insert_reports(db_url, machine, 20)
    wait_until(lambda: set(receiver.event_ids(hook.path)) >= set(more), what="20 more events")
    assert listener.running


def test_a_retried_delivery_arrives_after_500s(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("flaky", ["problem_report.created"])
    receiver.behave(hook.path, lambda n: Reply(500, b"upstream down") if n < 3 else Reply())
    listener = start_listener()
    event = insert_reports(db_url, machine, 1)[0]

    record = wait_until(
        lambda: (d := delivery(db_url, event, hook)) and d["status"] == "delivered" and d,
        what="delivery after retries",
    )
    assert record["attempts"] == 4
    assert [a["status_code"] for a in attempts(db_url, record["id"])] == [500, 500, 500, 200]
    assert receiver.event_ids(hook.path) == [event] * 4
    assert len(listener.logged("delivery.retry_scheduled", event_id=event)) == 3
    with psycopg.connect(db_url) as conn:
        health = conn.execute(
            "SELECT consecutive_failures, last_success_at IS NOT NULL"
            " FROM notification_endpoint_health WHERE endpoint_id = %s",
            [hook.endpoint.pk],
        ).fetchone()
    assert health == (0, True)


def test_429_retry_after_is_honoured(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("limited", ["problem_report.created"])
    body = json.dumps({"message": "You are being rate limited.", "retry_after": 1.5}).encode()
    receiver.behave(hook.path, lambda n: Reply(429, body) if n == 0 else Reply())
    start_listener("--retry-max-delay", "5")  # the server's wait is within the schedule's bounds
    event = insert_reports(db_url, machine, 1)[0]
    wait_until(lambda: len(receiver.at(hook.path)) == 2, what="the second attempt")
    first, second = receiver.at(hook.path)
    # Our own backoff would have come back after 0.05 s; the server asked for 1.5 s.
    assert second.at - first.at >= 1.5
    record = delivery(db_url, event, hook)
    assert record is not None
    assert [a["status_code"] for a in attempts(db_url, record["id"])] == [429, 200]


def test_404_fails_at_once_and_the_queue_moves_on(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("deleted", ["problem_report.created"])
    receiver.behave(
        hook.path,
        lambda n: (
            Reply(404, b'{"message": "Unknown Webhook", "code": 10015}') if n == 0 else Reply()
        ),
    )
    listener = start_listener()
    gone, after = insert_reports(db_url, machine, 2)
    wait_until(lambda: after in receiver.event_ids(hook.path), what="the next delivery")
    record = delivery(db_url, gone, hook)
    assert record is not None
    assert record["status"] == "failed"
    assert record["attempts"] == 1
    assert "404" in record["last_error"] and "no longer exists" in record["last_error"]
    assert receiver.event_ids(hook.path) == [gone, after]
    assert listener.logged("delivery.failed", event_id=gone, status=404)


def test_a_hanging_endpoint_does_not_delay_a_healthy_one(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    stuck = make_hook("stuck", ["problem_report.created"])
    healthy = make_hook("healthy", ["problem_report.created"])
    receiver.behave(stuck.path, lambda n: Reply(hang=True))
    start_listener("--read-timeout", "60")
    events = insert_reports(db_url, machine, 30)
    wait_until(lambda: receiver.event_ids(healthy.path) == events, what="the healthy endpoint")
    # Meanwhile the stuck endpoint has had one request, still unanswered.
    assert receiver.event_ids(stuck.path) == [events[0]]
    record = delivery(db_url, events[0], stuck)
    assert record is not None and record["status"] == "pending" and record["attempts"] == 0


@pytest.mark.parametrize(
    ("count", "per_transaction"),
    [
        # Ten events a commit: workers fall behind and read their queues.
        (1000, 10),
        # One a commit: workers also go idle between events, and fan-outs hand deliveries over.
        (300, 1),
    ],
)
def test_two_listeners_deliver_each_message_exactly_once_in_order(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
    count: int,
    per_transaction: int,
) -> None:
    hooks = [make_hook(f"crew{n}", ["problem_report.created"]) for n in range(3)]
    start_listener()
    start_listener()
    events = insert_reports(db_url, machine, count, per_transaction=per_transaction)

    def all_arrived() -> bool:
        return all(len(receiver.at(hook.path)) >= count for hook in hooks)

    wait_until(all_arrived, timeout=90, what=f"{count} deliveries to each endpoint")
    for hook in hooks:
        counts = Counter(receiver.event_ids(hook.path))
        assert set(counts) == set(events)
        assert set(counts.values()) == {1}, "a delivery arrived twice"
        # In order, per endpoint.
        assert receiver.event_ids(hook.path) == sorted(events)


def test_sigterm_finishes_the_request_in_flight(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("slow", ["problem_report.created"])
    receiver.behave(hook.path, lambda n: Reply(delay=1.0))
    listener = start_listener()
    event = insert_reports(db_url, machine, 1)[0]
    wait_until(lambda: receiver.at(hook.path), what="the request to start")
    assert listener.kill(signal.SIGTERM) == 0
    record = delivery(db_url, event, hook)
    assert record is not None and record["status"] == "delivered"
    assert listener.logged("listener.stopped")


def test_an_error_that_echoes_the_url_is_not_logged_with_it(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("echo", ["problem_report.created"])
    receiver.behave(
        hook.path, lambda n: Reply(400, f"bad request to {receiver.url(hook.path)}".encode())
    )
    closed = make_hook("closed", ["problem_report.created"])
    # Point "closed" at a port nobody listens on, keeping its secret path.
    dead_port = receiver.port + 1 if receiver.port < 65535 else receiver.port - 1
    closed.endpoint.set_url(f"http://127.0.0.1:{dead_port}{closed.path}")
    closed.endpoint.save()
    listener = start_listener()
    event = insert_reports(db_url, machine, 1)[0]
    failed = wait_until(
        lambda: (d := delivery(db_url, event, hook)) and d["status"] == "failed" and d,
        what="the 400 to be recorded",
    )
    assert hook.token not in failed["last_error"] and "bad request to" in failed["last_error"]
    retried = wait_until(
        lambda: (d := delivery(db_url, event, closed)) and d["attempts"] >= 1 and d,
        what="the connection error to be recorded",
    )
    assert "connect" in retried["last_error"].lower()
    assert closed.token not in retried["last_error"]
    # The fixture checks every log line for both tokens when the listener stops.
    # Logged just after the outcome is written down: waited for, not assumed.
    listener.wait_for("delivery.retry_scheduled", endpoint_id=closed.endpoint.pk)


def test_postgresql_restarted_mid_burst_loses_nothing(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    restart = postgresql_restart(db_url)
    hook = make_hook("crew", ["problem_report.created"])
    listener = start_listener()
    listener.wait_for("endpoint.acquired")
    written: list[str] = []
    stop = threading.Event()

    def write() -> None:
        # A writer that keeps trying through the restart, like a script with retries would.
        n = 0
        while not stop.is_set() and n < 300:
            try:
                with psycopg.connect(db_url, connect_timeout=2) as conn:
                    while not stop.is_set() and n < 300:
                        conn.execute(
                            "INSERT INTO problem_reports (machine_id, problem_type, description)"
                            " VALUES (%s, 'other', %s)",
                            [machine.pk, f"burst {n}"],
                        )
                        conn.commit()
                        written.append(f"burst {n}")
                        n += 1
            except psycopg.OperationalError:
                wait_until(
                    lambda: stop.is_set() or _can_connect(db_url), timeout=60, what="db back"
                )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_until(lambda: len(written) >= 50, what="the burst to start")
        restart()
        connection.close()  # the test's own Django connection died with the server
        wait_until(lambda: len(written) >= 300, timeout=90, what="the burst to finish")
    finally:
        stop.set()
        writer.join()

    with psycopg.connect(db_url) as conn:
        events = [
            r[0]
            for r in conn.execute(
                "SELECT e.id FROM notification_events e"
                " JOIN problem_reports r ON r.id = e.problem_report_id"
                " WHERE e.type = 'problem_report.created' AND r.description LIKE 'burst %%'"
            ).fetchall()
        ]
    assert len(events) >= 300
    wait_until(
        lambda: set(receiver.event_ids(hook.path)) >= set(events),
        timeout=60,
        what="every committed event delivered",
    )
    # The LISTEN connection comes back on its own backoff, which may end after the pool's
    # connections (and the poll) have delivered everything.
    listener.wait_for("listener.reconnected", timeout=30)
    assert listener.running


def _can_connect(db_url: str) -> bool:
    try:
        with psycopg.connect(db_url, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def postgresql_restart(db_url: str) -> Callable[[], None]:
    """How to restart the server the tests run on: the embedded one or the machine's own."""
    from psycopg.conninfo import conninfo_to_dict

    host = str(conninfo_to_dict(db_url).get("host") or "")
    if host.startswith("/"):
        import os
        from pathlib import Path

        import pgserver
        import pgserver._commands

        pg_ctl = str(Path(pgserver._commands.POSTGRES_BIN_PATH) / "pg_ctl")
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        pgdata = Path(row[0])
        # -l: the server must not inherit our pipes, or waiting for them would never end.
        command = [pg_ctl, "-D", str(pgdata), "-l", f"{pgdata}/log", "-w", "-m", "fast", "restart"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "pgserver", "--", *command]

        def restart_embedded() -> None:
            _run(command)
            # pgserver stops the server at exit by its postmaster's pid: it must learn the new
            # one, or the restarted server outlives the test run.
            pgserver.get_server(pgdata).ensure_postgres_running()

        return restart_embedded
    import shutil

    if not shutil.which("pg_ctlcluster"):
        pytest.skip("no way to restart this PostgreSQL server from here")
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()
    assert row is not None
    command = [
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        str(row[0]),
        "main",
        "restart",
        "--",
        "-m",
        "fast",
    ]
    return lambda: _run(command)


def _run(command: list[str]) -> None:
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120
    )


def test_old_finished_deliveries_are_pruned(
    start_listener: StartListener, make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew", [])
    old, recent, waiting = insert_reports(db_url, machine, 3)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE notification_events SET fanned_out_at = now() - interval '3 days'"
            " WHERE id = ANY(%s)",
            [[old, recent, waiting]],
        )
        for event, status, finished in [
            (old, "delivered", "2 days"),
            (recent, "failed", "1 hour"),
            (waiting, "pending", None),
        ]:
            # Each was attempted: the attempts go with the delivery.
            conn.execute(
                "WITH d AS (INSERT INTO notification_deliveries"
                " (event_id, endpoint_id, status, finished_at)"
                " VALUES (%s, %s, %s, now() - %s::interval) RETURNING id)"
                " INSERT INTO notification_attempts (delivery_id, status_code, duration_ms)"
                " SELECT id, 200, 1.0 FROM d",
                [event, hook.endpoint.pk, status, finished],
            )
    listener = start_listener("--prune-after-days", "1")
    listener.wait_for("prune.done")
    with psycopg.connect(db_url) as conn:
        kept = conn.execute(
            "SELECT event_id FROM notification_deliveries WHERE endpoint_id = %s ORDER BY event_id",
            [hook.endpoint.pk],
        ).fetchall()
        events = conn.execute(
            "SELECT id FROM notification_events WHERE id = ANY(%s) ORDER BY id",
            [[old, recent, waiting]],
        ).fetchall()
    assert [k[0] for k in kept] == [recent, waiting]
    assert [e[0] for e in events] == [recent, waiting]
    assert not listener.logged("fan_out.error")


def test_an_endpoint_deleted_in_psql_takes_its_queue_and_health_along(
    make_hook: MakeHook, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew", [])
    [event] = insert_reports(db_url, machine, 1)
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "WITH d AS (INSERT INTO notification_deliveries (event_id, endpoint_id)"
            " VALUES (%s, %s) RETURNING id)"
            " INSERT INTO notification_attempts (delivery_id, status_code, duration_ms)"
            " SELECT id, 500, 1.0 FROM d",
            [event, hook.endpoint.pk],
        )
        conn.execute(
            "INSERT INTO notification_endpoint_health (endpoint_id, consecutive_failures)"
            " VALUES (%s, 1)",
            [hook.endpoint.pk],
        )
    done = psql(db_url, f"DELETE FROM notification_endpoints WHERE id = {hook.endpoint.pk}")
    assert done.returncode == 0, done.stderr
    with psycopg.connect(db_url) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM notification_deliveries WHERE endpoint_id = %(id)s),"
            " (SELECT count(*) FROM notification_endpoint_health WHERE endpoint_id = %(id)s),"
            " (SELECT count(*) FROM notification_attempts a WHERE NOT EXISTS"
            "   (SELECT FROM notification_deliveries d WHERE d.id = a.delivery_id))",
            {"id": hook.endpoint.pk},
        ).fetchone()
    assert left == (0, 0, 0)


def test_another_listener_takes_over_an_endpoint_whose_driver_died(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("crew", ["problem_report.created"])
    first = start_listener()
    first.wait_for("endpoint.acquired", endpoint_id=hook.endpoint.pk)
    second = start_listener()
    # One driver per endpoint: the second process finds the endpoint taken.
    first_batch = insert_reports(db_url, machine, 5)
    wait_until(lambda: set(receiver.event_ids(hook.path)) >= set(first_batch), what="first batch")
    assert not second.logged("endpoint.acquired")

    first.kill(signal.SIGKILL)
    second.wait_for("endpoint.acquired", endpoint_id=hook.endpoint.pk)
    more = insert_reports(db_url, machine, 5)
    wait_until(lambda: set(receiver.event_ids(hook.path)) >= set(more), what="the second batch")


def test_a_delivery_older_than_the_schedule_is_not_sent(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("crew", [])
    stale, fresh = insert_reports(db_url, machine, 2)
    with psycopg.connect(db_url) as conn:
        for event, age in [(stale, "25 hours"), (fresh, "1 minute")]:
            conn.execute(
                "INSERT INTO notification_deliveries (event_id, endpoint_id, created_at)"
                " VALUES (%s, %s, now() - %s::interval)",
                [event, hook.endpoint.pk, age],
            )
    start_listener("--give-up-after", "86400")
    wait_until(lambda: receiver.event_ids(hook.path) == [fresh], what="the fresh delivery")
    record = delivery(db_url, stale, hook)
    assert record is not None and record["status"] == "failed"
    assert record["last_error"] == "expired: not sent within 24 h"


def test_a_plain_http_endpoint_is_refused_unless_allowed(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("crew", ["problem_report.created"])
    listener = start_listener(env={"TILTBOB_ALLOW_HTTP": ""})
    listener.wait_for("endpoint.http_refused", endpoint_id=hook.endpoint.pk)
    event = insert_reports(db_url, machine, 1)[0]
    wait_until(lambda: dispatched(db_url, event), what="fan-out")
    assert not listener.logged("endpoint.acquired")
    assert receiver.at(hook.path) == []


def test_sigterm_right_after_start_stops_the_listener(
    start_listener: StartListener, make_hook: MakeHook
) -> None:
    make_hook("crew")
    for _ in range(5):
        listener = start_listener()
        assert listener.kill(signal.SIGTERM) == 0
        listener.wait_for("listener.stopped", timeout=1)


def test_a_stop_asked_for_while_the_listener_starts_is_answered(db_url: str) -> None:
    """SIGTERM between `tiltbob run` serving its pages and the listener's own handlers (or
    early in `tiltbob listen`) stops the process cleanly instead of killing it."""
    import asyncio
    import os

    from listener.main import serve, stop_requests
    from listener.settings import ListenerSettings
    from tiltbob.environment import load
    from tiltbob.keys import secret_keys

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        requested = stop_requests()
        os.kill(os.getpid(), signal.SIGTERM)  # this very process: it must live on
        wait_until(requested.is_set, what="the stop to be remembered")
        settings = ListenerSettings(
            database_url=db_url, site_url="http://127.0.0.1:8000", secret_keys=secret_keys(load())
        )
        asyncio.run(asyncio.wait_for(serve(settings, requested), timeout=30))
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
