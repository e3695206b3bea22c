"""The embedded PostgreSQL used when DATABASE_URL is unset (the ``pgserver`` package's binaries).

Its data lives under ``<data dir>/pg`` and is kept between runs. The server is shared by every
tiltbob process that asks for it and stops when the last of them exits.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

DATABASE = "tiltbob"
_HANDLES = ".handle_pids.json"


def start(data_dir: Path) -> str:
    """Start (or join) the embedded server and return the URL of tiltbob's database in it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    _forget_dead_processes(pgdata)
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR on servers; it falls back fine.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    admin_url: str = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    url: str = server.get_uri(DATABASE)
    return url


def _forget_dead_processes(pgdata: Path) -> None:
    """Drop processes that died without saying goodbye from pgserver's list of users.

    pgserver stops the server when the last process on that list exits; a process killed
    with SIGKILL stays on it forever, and the server would never be stopped again.
    """
    handles = pgdata / _HANDLES
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
