"""The listener as a real process: started, killed and restarted by the tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.waiting import wait_until

PROJECT = Path(__file__).resolve().parent.parent

# Fast schedules, so retries and polls happen within a test's patience.
FAST = [
    "--poll-interval",
    "0.5",
    "--retry-first-delay",
    "0.05",
    "--retry-max-delay",
    "0.5",
    "--read-timeout",
    "5",
    "--connect-timeout",
    "2",
]


def run_tiltbob(
    *args: str,
    db_url: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``tiltbob ARGS`` as an operator runs it: a process of its own, its output captured."""
    full = dict(os.environ if env is None else env)
    if db_url is not None:
        full["DATABASE_URL"] = db_url
    full.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "tiltbob", *args],
        env=full,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def psql_binary() -> str:
    """The machine's psql, or the one the embedded server ships."""
    found = shutil.which("psql")
    if found:
        return found
    import pgserver._commands

    return str(Path(pgserver._commands.POSTGRES_BIN_PATH) / "psql")


def psql(db_url: str, statement: str) -> subprocess.CompletedProcess[str]:
    """One statement through psql, the way a person at a terminal would run it."""
    return subprocess.run(
        [psql_binary(), db_url, "-v", "ON_ERROR_STOP=1", "-c", statement],
        capture_output=True,
        text=True,
        check=False,
    )


class ListenerProcess:
    def __init__(
        self,
        db_url: str,
        log_path: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        clock: Path | None = None,
    ) -> None:
        """``clock``: a file of seconds the listener's clock runs ahead (tests.clocked_listener)."""
        self.log_path = log_path
        env = {**os.environ, "DATABASE_URL": db_url, "TILTBOB_LOG_FORMAT": "json", **(env or {})}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        command = ["tiltbob", "listen"] if clock is None else ["tests.clocked_listener", str(clock)]
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *command, *FAST, *args],
                env=env,
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"event": "unparsed", "line": line})
        return lines

    def logged(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.log()
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items())
        ]

    def wait_for(self, event: str, timeout: float = 20, **match: Any) -> dict[str, Any]:
        found = wait_until(
            lambda: self.logged(event, **match), timeout=timeout, what=f"log {event}"
        )
        first: dict[str, Any] = found[0]
        return first

    def kill(self, signum: int = signal.SIGKILL) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=30)

    @property
    def running(self) -> bool:
        return self.process.poll() is None
