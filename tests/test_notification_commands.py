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
from tests.receiver import Receiver, Reply
from tests.test_commands import free_port
from tests.waiting import wait_until
from webapp.maintenance.models import Machine
from webapp.notifications.models import Endpoint, Switch

PROJECT = Path(__file__).resolve().parent.parent
TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
DISCORD = f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}"


@pytest.fixture
def tiltbob(db_url: str):
    def run(
        *args: str, allow_http: bool = False, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TILTBOB_ALLOW_HTTP": "1" if allow_http else ""}
        return run_tiltbob(*args, db_url=db_url, env=env, stdin=stdin)

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


def test_in_flight_is_set_on_add_and_edit_within_its_bounds(
    tiltbob, transactional_db: None
) -> None:
    added = tiltbob(
        "endpoints", "add", "--name", "x", "--url", DISCORD, "--events", "all", "--in-flight", "4"
    )
    assert added.returncode == 0, added.stderr
    endpoint = Endpoint.objects.get(name="x")
    assert endpoint.in_flight == 4
    shown = json.loads(tiltbob("endpoints", "show", str(endpoint.pk), "--json").stdout)
    assert shown["in_flight"] == 4
    for wrong in ("0", "33", "many"):
        refused = tiltbob("endpoints", "edit", str(endpoint.pk), "--in-flight", wrong)
        assert refused.returncode != 0
        assert f"must be a whole number from 1 to 32, got {wrong!r}" in refused.stderr
    edited = tiltbob("endpoints", "edit", str(endpoint.pk), "--in-flight", "1")
    assert edited.returncode == 0, edited.stderr
    endpoint.refresh_from_db()
    assert endpoint.in_flight == 1


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


# -- the operators' equal of the admin ---------------------------------------------------------


def test_url_from_standard_input_show_edit_and_json_shapes(tiltbob, transactional_db: None) -> None:
    added = tiltbob(
        "endpoints",
        "add",
        "--name",
        "Workshop",
        "--url",
        "-",
        "--events",
        "all",
        "--json",
        stdin=DISCORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    shown = json.loads(added.stdout)
    assert set(shown) >= {
        "id",
        "name",
        "kind",
        "url",
        "enabled",
        "event_types",
        "pending",
        "last_success_at",
        "consecutive_failures",
        "last_error",
        "refused",
        "signing_secret",
    }
    assert (shown["kind"], shown["url"], shown["pending"]) == (
        "discord",
        "https://discord.com/…6789",
        0,
    )
    endpoint_id = str(shown["id"])
    assert Endpoint.objects.get().url() == DISCORD

    edited = tiltbob(
        "endpoints", "edit", endpoint_id, "--name", "Crew", "--events", "machine.added", "--json"
    )
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout)["event_types"] == ["machine.added"]
    assert Endpoint.objects.get().url() == DISCORD, "an edit without --url keeps the URL"
    other = DISCORD.replace("123456789012345678", "987654321098765432")
    assert tiltbob("endpoints", "edit", endpoint_id, "--url", "-", stdin=other).returncode == 0
    assert Endpoint.objects.get().url() == other

    listed = json.loads(tiltbob("endpoints", "list", "--json").stdout)
    assert [e["name"] for e in listed] == ["Crew"]
    one = tiltbob("endpoints", "show", endpoint_id)
    assert "name: Crew" in one.stdout and "consecutive failures: 0" in one.stdout
    empty = tiltbob("endpoints", "add", "--name", "x", "--url", "-", "--events", "all", stdin="")
    assert empty.returncode != 0 and "nothing on standard input" in empty.stderr
    wrong = tiltbob(
        "endpoints", "add", "--name", "x", "--kind", "slack", "--url", DISCORD, "--events", "all"
    )
    assert wrong.returncode != 0 and "This is not a Slack webhook URL" in wrong.stderr
    for run in (added, edited, one):
        assert TOKEN not in run.stdout + run.stderr

    secret = tiltbob(
        "endpoints",
        "add",
        "--name",
        "Hook",
        "--url",
        "https://example.org/h",
        "--events",
        "all",
        "--json",
    )
    hook = json.loads(secret.stdout)
    assert hook["signing_secret"].startswith("whsec_")
    rolled = json.loads(tiltbob("endpoints", "roll-secret", str(hook["id"]), "--json").stdout)
    assert rolled["signing_secret"].startswith("whsec_")
    assert rolled["signing_secret"] != hook["signing_secret"]
    removed = json.loads(tiltbob("endpoints", "remove", str(hook["id"]), "--json").stdout)
    assert removed == {"id": hook["id"], "removed": True, "pending_dropped": 0}
    switches = json.loads(tiltbob("switches", "--master", "off", "--json").stdout)
    assert switches["master"] is False and switches["machine.added"] is True


def test_a_test_message_waited_for_says_how_it_went(
    tiltbob, make_hook, receiver: Receiver, start_listener, transactional_db: None
) -> None:
    good = make_hook("good")
    bad = make_hook("bad")
    receiver.behave(bad.path, lambda seen: Reply(404, b'{"message": "Unknown Webhook"}'))
    listener = start_listener()
    for hook in (good, bad):
        listener.wait_for("endpoint.acquired", endpoint_id=hook.endpoint.pk)
    sent = tiltbob("endpoints", "test", str(good.endpoint.pk), "--wait", "--json", allow_http=True)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["state"] == "delivered"
    refused = tiltbob("endpoints", "test", str(bad.endpoint.pk), "--wait", allow_http=True)
    assert refused.returncode == 1
    assert "was not delivered" in refused.stderr and "404" in refused.stderr
    assert bad.token not in refused.stdout + refused.stderr


def test_deliveries_and_resend_and_status_as_json(
    tiltbob, make_hook, receiver: Receiver, start_listener, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew", ["problem_report.created"])
    start_listener()
    [event_id] = insert_reports(db_url, machine, 1)
    wait_until(lambda: receiver.at(hook.path), what="the first delivery")
    listed = json.loads(
        tiltbob("deliveries", "--status", "delivered", "--since", "1h", "--json").stdout
    )
    assert [(d["event_id"], d["endpoint"], d["attempts"]) for d in listed] == [
        (event_id, "crew", 1)
    ]
    assert listed[0]["summary"] == "New problem report: Stuck ball"
    assert (
        json.loads(
            tiltbob("deliveries", "--since", "2000-01-01", "--status", "failed", "--json").stdout
        )
        == []
    )
    text = tiltbob("deliveries", "--endpoint", str(hook.endpoint.pk))
    assert "problem_report.created" in text.stdout and "delivered" in text.stdout
    resent = tiltbob("deliveries", "resend", str(listed[0]["id"]), "--json")
    assert resent.returncode == 0, resent.stderr
    assert len(json.loads(resent.stdout)["new"]) == 1
    wait_until(lambda: len(receiver.at(hook.path)) == 2, what="the resent delivery")
    assert receiver.event_ids(hook.path) == [event_id, event_id]
    missing = tiltbob("deliveries", "resend", "999999")
    assert missing.returncode != 0 and "no deliveries 999999" in missing.stderr
    status = json.loads(tiltbob("status", "--json").stdout)
    assert status["events_waiting"] == 0
    [crew] = status["endpoints"]
    assert (crew["name"], crew["pending"], crew["consecutive_failures"]) == ("crew", 0, 0)
    assert crew["last_success_at"] is not None
    bad = tiltbob("deliveries", "--since", "yesterday-ish")
    assert bad.returncode != 0 and "give 90m, 2h or 3d" in bad.stderr


def test_rotate_keys_lets_the_old_key_go(tiltbob, db_url: str, transactional_db: None) -> None:
    from cryptography.fernet import Fernet

    old = os.environ["TILTBOB_SECRET_KEYS"]
    new = Fernet.generate_key().decode()

    def with_keys(keys: str, *args: str, stdin: str | None = None):
        env = {**os.environ, "TILTBOB_SECRET_KEYS": keys}
        return run_tiltbob(*args, db_url=db_url, env=env, stdin=stdin)

    with_keys(old, "endpoints", "add", "--name", "Workshop", "--url", DISCORD, "--events", "all")
    with_keys(
        old,
        "endpoints",
        "add",
        "--name",
        "Hook",
        "--url",
        "https://example.org/h",
        "--events",
        "all",
    )
    refused = with_keys(new, "rotate-keys")
    assert refused.returncode != 0 and "cannot be decrypted" in refused.stderr
    rotated = with_keys(f"{new},{old}", "rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 2 endpoint URL(s) and 1 signing secret(s)" in rotated.stdout
    shown = with_keys(new, "endpoints", "list", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [e["refused"] for e in json.loads(shown.stdout)] == [None, None]
    for endpoint in Endpoint.objects.all():
        assert Fernet(new.encode()).decrypt(endpoint.url_encrypted.encode())


def test_status_prints_no_control_character_nor_an_address(tiltbob, make_hook, db_url: str) -> None:
    hook = make_hook("crew")
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO notification_endpoint_health (endpoint_id, consecutive_failures,"
            " last_error) VALUES (%s, 1, %s)",
            [hook.endpoint.pk, "boom \x1b]0;pwned\x07 for zoe@example.org"],
        )
    for args in (("status",), ("status", "--json")):
        shown = tiltbob(*args)
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
        text = shown.stdout if "--json" not in args else str(json.loads(shown.stdout))
        assert "zoe@" not in text and "z…@example.org" in text


def test_status_check_says_whether_a_listener_is_up_and_moving(
    tiltbob, make_hook, start_listener, receiver: Receiver, machine: Machine, db_url: str
) -> None:
    hook = make_hook("crew", ["problem_report.created"])
    [event_id] = insert_reports(db_url, machine, 1)
    with psycopg.connect(db_url) as conn:  # fanned out long ago, never sent
        conn.execute(
            "INSERT INTO notification_deliveries (event_id, endpoint_id, next_attempt_at)"
            " VALUES (%s, %s, now() - interval '10 minutes')",
            [event_id, hook.endpoint.pk],
        )
        conn.execute("UPDATE notification_events SET fanned_out_at = now()")
    down = tiltbob("status", "--check")
    assert down.returncode == 1
    assert "not ok: no listener is connected" in down.stdout
    assert f"not ok: endpoint {hook.endpoint.pk} (crew) has deliveries due since" in down.stdout
    start_listener()
    wait_until(lambda: receiver.at(hook.path), what="the stuck delivery to go out")
    up = wait_until(
        lambda: (r := tiltbob("status", "--check")).returncode == 0 and r,
        what="the check to pass",
    )
    assert up.stdout.startswith("ok: 1 listener(s) connected")
    unreachable = run_tiltbob(
        "status", "--check", db_url="postgresql://nobody@127.0.0.1:1/none", env=dict(os.environ)
    )
    assert unreachable.returncode == 1 and "not ok: the database cannot be reached" in (
        unreachable.stdout
    )
