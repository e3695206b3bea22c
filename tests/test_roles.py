"""The deployment's database roles (docs/security.md, "Database roles"): ``tiltbob grant`` gives
each exactly the rights the docs list, and the capture, the web app and the listener work under
them, each unable to do more."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import Hook, Person
from tests.processes import PROJECT, ListenerProcess, psql, run_tiltbob
from tests.receiver import Receiver
from tests.test_commands import free_port
from tests.waiting import wait_until
from webapp.maintenance.models import Machine

KINDS = ("web", "listener", "script")
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
WORDS = {
    "read": {"SELECT"},
    "write": {"INSERT", "UPDATE", "DELETE"},
    "insert": {"INSERT"},
    "update": {"UPDATE"},
    "delete": {"DELETE"},
}
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_STARTED = re.compile(r'name="started" value="([^"]+)"')


@dataclass(frozen=True)
class Roles:
    db_url: str
    names: dict[str, str]

    def url(self, kind: str) -> str:
        return make_conninfo(self.db_url, user=self.names[kind])

    def grant(self) -> subprocess.CompletedProcess[str]:
        options = [f"--{kind}={name}" for kind, name in self.names.items()]
        return run_tiltbob("grant", *options, db_url=self.db_url)


@pytest.fixture
def roles(db_url: str) -> Iterator[Roles]:
    """Three login roles, made for this test and dropped after it (roles are the cluster's)."""
    suffix = uuid.uuid4().hex[:8]
    names = {kind: f"tiltbob_{kind}_{suffix}" for kind in KINDS}
    with psycopg.connect(db_url, autocommit=True) as owner:
        for name in names.values():
            owner.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    try:
        yield Roles(db_url, names)
    finally:
        with psycopg.connect(db_url, autocommit=True) as owner:
            for name in names.values():
                owner.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                owner.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _documented(cell: str) -> set[str]:
    rights: set[str] = set()
    for word in filter(None, (w.strip() for w in cell.split(","))):
        column = re.fullmatch(r"update `(\w+)`", word)
        if column:
            rights.add(f"UPDATE({column.group(1)})")
        elif word != "—":
            rights |= WORDS[word]
    return rights


def documented_rights(tables: list[str]) -> dict[str, dict[str, set[str]]]:
    """Per table and role kind, the rights docs/security.md's table gives."""
    text = (PROJECT / "docs" / "security.md").read_text()
    table = text[text.index("| tables | web | listener | script |") :].split("\n\n")[0]
    rights: dict[str, dict[str, set[str]]] = {}
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        patterns = re.findall(r"`([^`]+)`", cells[0])
        for name in (t for t in tables if any(fnmatch(t, p) for p in patterns)):
            given = zip(KINDS, cells[1:], strict=True)
            rights[name] = {kind: _documented(cell) for kind, cell in given}
    return rights


def actual_rights(conn: psycopg.Connection[Any], role: str, table: str) -> set[str]:
    """The rights PostgreSQL records for the role on the table (a column's UPDATE by itself)."""
    [(held,)] = conn.execute(
        "SELECT array_agg(p) FILTER (WHERE has_table_privilege(%s, %s, p))"
        " FROM unnest(%s::text[]) AS p",
        [role, table, list(PRIVILEGES)],
    ).fetchall()
    rights = set(held or [])
    if "UPDATE" not in rights:
        columns = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped AND has_column_privilege(%s, attrelid, attnum, 'UPDATE')",
            [table, role],
        ).fetchall()
        rights |= {f"UPDATE({column})" for (column,) in columns}
    return rights


def test_grant_gives_each_role_exactly_what_the_docs_say(roles: Roles) -> None:
    granted = roles.grant()
    assert granted.returncode == 0, granted.stderr
    with psycopg.connect(roles.db_url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        documented = documented_rights(tables)
        assert sorted(documented) == tables, "a table the docs' list of rights leaves out"
        for table in tables:
            for kind in KINDS:
                assert actual_rights(conn, roles.names[kind], table) == documented[table][kind], (
                    f"{kind} on {table}"
                )
        # The functions that change what people own: each its one role's.
        functions = {
            "tiltbob_disable_failing_endpoint(bigint, timestamptz)": "listener",
            "tiltbob_settle_held_back(bigint, text, text)": "web",
        }
        for function, owner in functions.items():
            for kind in KINDS:
                [(may,)] = conn.execute(
                    "SELECT has_function_privilege(%s, %s, 'EXECUTE')",
                    [roles.names[kind], function],
                ).fetchall()
                assert may is (kind == owner), f"{kind} on {function}"


def test_grant_names_a_missing_role_and_grants_nothing(roles: Roles) -> None:
    missing = f"nobody_{uuid.uuid4().hex[:8]}"
    answer = run_tiltbob(
        "grant", f"--web={roles.names['web']}", f"--listener={missing}", db_url=roles.db_url
    )
    assert answer.returncode != 0
    assert f"there is no database role {missing!r}" in answer.stderr
    with psycopg.connect(roles.db_url) as conn:
        assert actual_rights(conn, roles.names["web"], "machines") == set()


# -- the whole under its roles ---------------------------------------------------------------


def _field(pattern: re.Pattern[str], page: httpx.Response) -> str:
    found = pattern.search(page.text)
    assert found, f"{page.url}: no {pattern.pattern!r} in the page"
    return found.group(1)


def _web_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``tiltbob run`` as compose runs it: no migration, no listener."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "TILTBOB_REPORT_MIN_SECONDS": "0",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = ["run", "--no-migrate", "--no-listener", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tiltbob", *command],
            env=env,
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _healthy(process: subprocess.Popen[bytes], base: str, log: Path) -> bool:
    assert process.poll() is None, log.read_text()
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _admin(http: httpx.Client, path: str, **form: str) -> httpx.Response:
    """POST an admin form as the logged-in superuser would (its CSRF token from the cookie)."""
    token = http.cookies["csrftoken"]
    answer = http.post(path, data={"csrfmiddlewaretoken": token, **form})
    assert answer.status_code == 302, f"{path}: {answer.status_code}"
    return answer


def _refused(url: str, statement: str) -> None:
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_capture_the_web_app_and_the_listener_work_under_their_roles(
    roles: Roles,
    machine: Machine,
    ana: Person,
    make_hook: Callable[..., Hook],
    receiver: Receiver,
    start_listener: Callable[..., ListenerProcess],
    tmp_path: Path,
) -> None:
    hook = make_hook("crew")
    granted = roles.grant()
    assert granted.returncode == 0, granted.stderr
    start_listener(env={"DATABASE_URL": roles.url("listener")})

    def arrived(check: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [a.json for a in receiver.at(hook.path) if check(a.json)]

    def report(words: str) -> Callable[[dict[str, Any]], bool]:
        return lambda body: (body["data"].get("problem_report") or {}).get("description") == words

    # A person at psql, under the script role: the capture runs, the listener delivers.
    written = psql(
        roles.url("script"),
        "INSERT INTO problem_reports (machine_id, problem_type, description)"
        f" VALUES ({machine.pk}, 'stuck_ball', 'from psql')",
    )
    assert written.returncode == 0, written.stderr
    wait_until(lambda: arrived(report("from psql")), what="the report written with psql")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "web.log"
    web = _web_server(roles.url("web"), port, log)
    try:
        wait_until(lambda: _healthy(web, base, log), timeout=60, what="the web app under its role")
        with httpx.Client(base_url=base, timeout=10) as http:
            # A visitor's report through the public form.
            form = http.get(f"/p/{machine.slug}/")
            sent = http.post(
                f"/p/{machine.slug}/",
                data={
                    "csrfmiddlewaretoken": _field(_CSRF, form),
                    "started": _field(_STARTED, form),
                    "problem_type": "no_credits",
                    "description": "from the form",
                    "website": "",
                },
            )
            assert sent.status_code in {200, 302}, sent.text[:500]
            # The admin: log in, read the notifier's lists, send a test message, resend a
            # delivery, make one due now.
            login = http.get("/admin/login/")
            http.post(
                "/admin/login/?next=/admin/",
                data={
                    "csrfmiddlewaretoken": _field(_CSRF, login),
                    "username": ana.username,
                    "password": ana.password,
                },
            )
            for page in ("delivery", "event", "endpoint", "switch"):
                listed = http.get(f"/admin/notifications/{page}/")
                assert listed.status_code == 200, f"{page}: {listed.status_code}"
            _admin(
                http,
                f"/admin/notifications/endpoint/{hook.endpoint.pk}/test/",
                event_type="machine.added",
            )
            with psycopg.connect(roles.db_url) as conn:
                first = conn.execute(
                    "SELECT id, event_id FROM notification_deliveries WHERE endpoint_id = %s"
                    " ORDER BY id LIMIT 1",
                    [hook.endpoint.pk],
                ).fetchone()
            assert first is not None
            _admin(http, f"/admin/notifications/delivery/{first[0]}/resend/")
            _admin(http, f"/admin/notifications/delivery/{first[0]}/retry-now/")
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()

    wait_until(lambda: arrived(report("from the form")), what="the visitor's report")
    wait_until(lambda: arrived(lambda body: body.get("test", False)), what="the test message")
    wait_until(
        lambda: receiver.event_ids(hook.path).count(first[1]) == 2, what="the resent delivery"
    )

    # `tiltbob status --check` under the listener's role, as compose's health check runs it.
    status = run_tiltbob("status", "--check", db_url=roles.url("listener"))
    assert status.returncode == 0, status.stdout + status.stderr

    # And no more than that: no role forges or rewrites what is not its own.
    _refused(roles.url("script"), "INSERT INTO notification_events (type) VALUES ('x')")
    _refused(roles.url("listener"), "INSERT INTO notification_events (type) VALUES ('x')")
    _refused(roles.url("listener"), "UPDATE machines SET status = 'broken'")
    _refused(roles.url("listener"), "UPDATE notification_endpoints SET enabled = false")
    _refused(roles.url("listener"), "SELECT * FROM auth_user")
    _refused(roles.url("web"), "UPDATE notification_deliveries SET status = 'delivered'")
    _refused(roles.url("web"), "DELETE FROM notification_attempts")
