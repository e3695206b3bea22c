"""Two ways to change the maintenance data: the web app's pages, and raw SQL on a separate
connection (a script, a psql session). The capture tests run every action through both."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import psycopg
from django.test import Client

from webapp.maintenance.models import LogEntry, Machine, ProblemReport


class Writer(Protocol):
    actor: str
    """Who the events should name for a maintainer's action."""
    visitor_actor: str
    """Who the events should name for a visitor's problem report."""

    def report_problem(
        self, machine: Machine, problem_type: str, description: str, name: str
    ) -> int: ...
    def close_report(self, report_id: int, note: str = "") -> None: ...
    def reopen_report(self, report_id: int, note: str = "") -> None: ...
    def log_work(self, machine: Machine, text: str, maintainer_ids: list[int]) -> int: ...
    def add_machine(self, name: str, slug: str, location_id: int) -> int: ...
    def set_status(self, machine: Machine, status: str, note: str = "") -> None: ...
    def set_location(self, machine: Machine, location_id: int, note: str = "") -> None: ...


class SqlWriter:
    def __init__(self, url: str) -> None:
        self.url = url
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT current_user::text").fetchone()
            assert row is not None
            self.actor = self.visitor_actor = row[0]

    def _run(self, *statements: tuple[str, list[Any]]) -> Any:
        """Run the statements in one transaction; return the first column of the first row."""
        first = None
        with psycopg.connect(self.url) as conn, conn.transaction():
            for query, params in statements:
                cur = conn.execute(query, params)
                if first is None and cur.description:
                    row = cur.fetchone()
                    first = row[0] if row else None
        return first

    def report_problem(
        self, machine: Machine, problem_type: str, description: str, name: str
    ) -> int:
        return int(
            self._run(
                (
                    "INSERT INTO problem_reports"
                    " (machine_id, problem_type, description, reporter_name)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    [machine.pk, problem_type, description, name],
                )
            )
        )

    def _set_report_status(self, report_id: int, status: str, note: str) -> None:
        self._run(
            ("SELECT set_config('tiltbob.note', %s, true)", [note]),
            ("UPDATE problem_reports SET status = %s WHERE id = %s", [status, report_id]),
        )

    def close_report(self, report_id: int, note: str = "") -> None:
        self._set_report_status(report_id, "closed", note)

    def reopen_report(self, report_id: int, note: str = "") -> None:
        self._set_report_status(report_id, "open", note)

    def log_work(self, machine: Machine, text: str, maintainer_ids: list[int]) -> int:
        with psycopg.connect(self.url) as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO log_entries (machine_id, text) VALUES (%s, %s) RETURNING id",
                [machine.pk, text],
            ).fetchone()
            assert row is not None
            for maintainer_id in maintainer_ids:
                conn.execute(
                    "INSERT INTO log_entry_maintainers (log_entry_id, maintainer_id)"
                    " VALUES (%s, %s)",
                    [row[0], maintainer_id],
                )
        return int(row[0])

    def add_machine(self, name: str, slug: str, location_id: int) -> int:
        return int(
            self._run(
                (
                    "INSERT INTO machines (name, slug, location_id)"
                    " VALUES (%s, %s, %s) RETURNING id",
                    [name, slug, location_id],
                )
            )
        )

    def set_status(self, machine: Machine, status: str, note: str = "") -> None:
        self._run(
            ("SELECT set_config('tiltbob.note', %s, true)", [note]),
            ("UPDATE machines SET status = %s WHERE id = %s", [status, machine.pk]),
        )

    def set_location(self, machine: Machine, location_id: int, note: str = "") -> None:
        self._run(
            ("SELECT set_config('tiltbob.note', %s, true)", [note]),
            ("UPDATE machines SET location_id = %s WHERE id = %s", [location_id, machine.pk]),
        )


class WebWriter:
    """Posts the app's own forms as a logged-in maintainer (a superuser, for the admin)."""

    visitor_actor = "Visitor"

    def __init__(self, client: Client, actor: str) -> None:
        self.client = client
        self.actor = actor

    def _post(self, path: str, data: dict[str, Any], client: Client | None = None) -> None:
        response = (client or self.client).post(path, data)
        assert response.status_code == 302, (path, response.status_code, response.content[:2000])

    def report_problem(
        self, machine: Machine, problem_type: str, description: str, name: str
    ) -> int:
        self._post(
            f"/p/{machine.slug}/",
            {"problem_type": problem_type, "description": description, "reporter_name": name},
            client=Client(),
        )
        return ProblemReport.objects.filter(machine=machine).latest("id").pk

    def close_report(self, report_id: int, note: str = "") -> None:
        self._post(f"/problem-reports/{report_id}/", {"action": "close", "note": note})

    def reopen_report(self, report_id: int, note: str = "") -> None:
        self._post(f"/problem-reports/{report_id}/", {"action": "reopen", "note": note})

    def log_work(self, machine: Machine, text: str, maintainer_ids: list[int]) -> int:
        self._post(
            f"/machines/{machine.slug}/logs/new/",
            {"text": text, "work_date": date.today().isoformat(), "maintainers": maintainer_ids},
        )
        return LogEntry.objects.filter(machine=machine, kind="manual").latest("id").pk

    def add_machine(self, name: str, slug: str, location_id: int) -> int:
        self._post(
            "/admin/maintenance/machine/add/",
            {"name": name, "slug": slug, "location": location_id, "status": "unknown"},
        )
        return Machine.objects.get(slug=slug).pk

    def _update_machine(self, machine: Machine, **changes: Any) -> None:
        machine.refresh_from_db()
        data = {"status": machine.status, "location": machine.location_id, "note": ""}
        data.update(changes)
        self._post(f"/machines/{machine.slug}/", data)

    def set_status(self, machine: Machine, status: str, note: str = "") -> None:
        self._update_machine(machine, status=status, note=note)

    def set_location(self, machine: Machine, location_id: int, note: str = "") -> None:
        self._update_machine(machine, location=location_id, note=note)
