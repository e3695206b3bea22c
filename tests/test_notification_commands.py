"""``tiltbob endpoints``, ``switches``, ``status`` and ``sink`` as an operator types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.conftest import insert_reports
from tests.processes import run_tiltbob
from tests.test_commands import free_port
from tests.waiting import wait_until
from webapp.maintenance.models import Machine
from webapp.notifications.models import Endpoint, Switch

PROJECT = Path(__file__).resolve().parent.parent
TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
DISCORD = f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}"


@pytest.fixture
def tiltbob(db_url: str):
    def run(*args: str, allow_http: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TILTBOB_ALLOW_HTTP": "1" if allow_http else ""}
        return run_tiltbob(*args, db_url=db_url, env=env)

    return run


def test_add_and_list_show_the_url_masked(tiltbob, transactional_db: None) -> None:
    added = tiltbob(
        "endpoints",
        "add",
        "--name",
        "Workshop",
        "--url",
        DISCORD,
        "--events",
        "problem_report.created,machine.status_changed",
    )
    assert added.returncode == 0, added.stderr
    assert "(discord)" in added.stdout
    listed = tiltbob("endpoints", "list")
    assert "Workshop" in listed.stdout and "https://discord.com/…6789" in listed.stdout
    assert "problem_report.created,machine.status_changed" in listed.stdout
    for output in (added.stdout, added.stderr, listed.stdout, listed.stderr):
        assert TOKEN not in output
    endpoint = Endpoint.objects.get(name="Workshop")
    assert TOKEN not in endpoint.url_encrypted and TOKEN not in endpoint.url_hint
    assert endpoint.url() == DISCORD


def test_add_refuses_bad_input_clearly(tiltbob, transactional_db: None) -> None:
    secret = "http://example.org/hooks/not-so-secret-token"
    refused = tiltbob("endpoints", "add", "--name", "x", "--url", secret, "--events", "all")
    assert refused.returncode != 0
    assert "invalid URL: plain http:// is refused" in refused.stderr
    assert "not-so-secret-token" not in refused.stderr
    wrong = tiltbob(
        "endpoints", "add", "--name", "x", "--url", DISCORD, "--events", "machine.exploded"
    )
    assert wrong.returncode != 0 and "unknown event type(s): machine.exploded" in wrong.stderr
    assert not Endpoint.objects.exists()


def test_enable_disable_remove(tiltbob, transactional_db: None) -> None:
    tiltbob(
        "endpoints", "add", "--name", "Mail", "--url", "mailto:crew@example.org", "--events", "all"
    )
    endpoint = Endpoint.objects.get(name="Mail")
    assert endpoint.kind == "email"
    assert tiltbob("endpoints", "disable", str(endpoint.pk)).returncode == 0
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert tiltbob("endpoints", "enable", str(endpoint.pk)).returncode == 0
    endpoint.refresh_from_db()
    assert endpoint.enabled
    missing = tiltbob("endpoints", "enable", "9999")
    assert missing.returncode != 0 and "no endpoint 9999" in missing.stderr
    assert tiltbob("endpoints", "remove", str(endpoint.pk)).returncode == 0
    assert not Endpoint.objects.exists()


def test_switches(tiltbob, transactional_db: None) -> None:
    shown = tiltbob("switches")
    assert "master" in shown.stdout and "machine.added" in shown.stdout
    assert tiltbob("switches", "--master", "off", "--event", "machine.added", "off").returncode == 0
    assert Switch.states()["master"] is False
    assert Switch.states()["machine.added"] is False
    assert Switch.states()["problem_report.created"] is True
    bad = tiltbob("switches", "--event", "machine.exploded", "on")
    assert bad.returncode != 0 and "unknown event type" in bad.stderr


def test_status_reports_the_queue_and_health(
    tiltbob, db_url: str, machine: Machine, transactional_db: None
) -> None:
    tiltbob("endpoints", "add", "--name", "Crew", "--url", DISCORD, "--events", "all")
    endpoint = Endpoint.objects.get(name="Crew")
    events = insert_reports(db_url, machine, 3)
    with psycopg.connect(db_url) as conn:
        for event in events:
            conn.execute(
                "INSERT INTO notification_deliveries (event_id, endpoint_id) VALUES (%s, %s)",
                [event, endpoint.pk],
            )
        conn.execute(
            "INSERT INTO notification_endpoint_health"
            " (endpoint_id, consecutive_failures, last_error)"
            " VALUES (%s, 4, '503 server error')",
            [endpoint.pk],
        )
    status = tiltbob("status")
    assert status.returncode == 0, status.stderr
    line = next(
        line
        for line in status.stdout.splitlines()
        if line.split()[:2] == [str(endpoint.pk), "Crew"]
    )
    assert "https://discord.com/…6789" in line
    assert " 3 " in line and "503 server error" in line and " 4 " in line
    assert "events waiting for a listener:" in status.stdout
    assert TOKEN not in status.stdout


def test_sink_prints_what_arrives(db_url: str) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url}
    sink = subprocess.Popen(
        [sys.executable, "-m", "tiltbob", "sink", "--port", str(port)],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def post() -> bool:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hook",
                data=json.dumps({"type": "machine.added"}).encode(),
                headers={"content-type": "application/json", "webhook-id": "42"},
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(post, what="the sink to answer")
    finally:
        sink.terminate()
        out, _ = sink.communicate(timeout=10)
    printed = json.loads(out[: out.index("\n}\n") + 2])
    assert printed["body"] == {"type": "machine.added"}
    assert printed["headers"]["webhook-id"] == "42"
