"""``tiltbob run`` / ``demo`` / ``migrate`` as real processes: the embedded default from nothing,
the printed password, a clean stop, and the refusal of a configured deployment without keys."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import run_tiltbob
from tests.receiver import Receiver
from tests.waiting import wait_until

PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_env(data_dir: Path) -> dict[str, str]:
    unset = {"DATABASE_URL", "TILTBOB_SECRET_KEYS", "TILTBOB_ALLOW_HTTP"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["TILTBOB_DATA_DIR"] = str(data_dir)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def tiltbob(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_tiltbob(*args, env=env)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    # If a test failed half-way, do not leave a server behind.
    if (path / "pg" / "postmaster.pid").exists():
        import pgserver._commands

        subprocess.run(
            [
                str(Path(pgserver._commands.POSTGRES_BIN_PATH) / "pg_ctl"),
                "-D",
                str(path / "pg"),
                "stop",
                "-m",
                "immediate",
            ],
            check=False,
            capture_output=True,
            user="pgserver" if os.geteuid() == 0 else None,
        )


def serving(process: subprocess.Popen[bytes], port: int) -> bool:
    assert process.poll() is None, "tiltbob run exited early; see its output above"
    return get(f"http://127.0.0.1:{port}/p/medieval-madness/") == 200


def serve(
    data_dir: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tiltbob", "run", "--demo", "--port", str(port)],
            env=env or embedded_env(data_dir),
            cwd=PROJECT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_run_from_nothing_on_the_embedded_database(
    data_dir: Path, tmp_path: Path, receiver: Receiver
) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    process = serve(data_dir, port, log)
    try:
        wait_until(
            lambda: serving(process, port), timeout=90, what="the demo machine's report page"
        )
        assert get(f"http://127.0.0.1:{port}/login/") == 200
    finally:
        code = stop(process)
    output = log.read_text()
    assert code == 0, output
    assert "Superuser created: admin / " in output
    password = output.split("Superuser created: admin / ")[1].split()[0]
    assert len(password) >= 12
    # Stopped cleanly: the server went down with the last process that used it.
    assert not (data_dir / "pg" / "postmaster.pid").exists()
    assert (data_dir / "secret.key").stat().st_mode & 0o077 == 0

    # Second start: the data is kept, the demo is not loaded again, the password not shown again;
    # and the listener that `tiltbob run` brings delivers to an endpoint added meanwhile.
    env = {**embedded_env(data_dir), "TILTBOB_ALLOW_HTTP": "1"}
    added = tiltbob(
        "endpoints",
        "add",
        "--name",
        "crew",
        "--url",
        receiver.url("/crew/tok-run"),
        "--events",
        "all",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    process = serve(data_dir, port, log, env)
    try:
        wait_until(lambda: serving(process, port), timeout=60, what="the second start")
        reported = tiltbob(
            "shell",
            "-c",
            "from webapp.maintenance.models import Machine, ProblemReport;"
            "ProblemReport.objects.create(machine=Machine.objects.get(slug='funhouse'),"
            " problem_type='stuck_ball')",
            env=env,
        )
        assert reported.returncode == 0, reported.stderr
        wait_until(
            lambda: [
                a
                for a in receiver.at("/crew/tok-run")
                if a.json["type"] == "problem_report.created"
            ],
            what="the listener inside `tiltbob run` to deliver",
        )
    finally:
        assert stop(process) == 0
    assert "Superuser created" not in log.read_text()
    assert "tok-run" not in log.read_text()  # the endpoint URL's secret part
    check = tiltbob(
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        "from webapp.maintenance.models import Machine;"
        "print(Machine.objects.count(),"
        f" User.objects.get(username='admin').check_password('{password}'))",
        env=embedded_env(data_dir),
    )
    assert check.stdout.splitlines()[-1].split() == ["6", "True"], check.stderr


def test_a_configured_database_without_keys_is_refused(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    result = tiltbob("migrate", env=env)
    assert result.returncode == 2
    assert "TILTBOB_SECRET_KEYS is not set" in result.stderr
    assert "Fernet.generate_key" in result.stderr


def test_a_malformed_key_is_refused(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    env["TILTBOB_SECRET_KEYS"] = "not-a-key"
    result = tiltbob("migrate", env=env)
    assert result.returncode == 2
    assert "entry 1 is not a Fernet key" in result.stderr
    assert "not-a-key" not in result.stderr
