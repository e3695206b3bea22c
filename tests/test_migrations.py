"""The schema's history: migrations from zero build exactly what ``sql/schema.sql`` plus
Django's models describe, and every SQL migration is applied once, in order, as it landed."""

from __future__ import annotations

import difflib
import pprint
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.processes import PROJECT, run_tiltbob
from tiltbob import sqlfiles

# What each part of the catalog looks like, for one database's public schema.
CATALOG = {
    "tables": """
        SELECT c.relname, c.relkind::text, obj_description(c.oid, 'pg_class')
          FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
         ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
           AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
          FROM pg_constraint
         WHERE connamespace = 'public'::regnamespace
         ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
         WHERE schemaname = 'public' ORDER BY 1, 2""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
          FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
         ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
          FROM pg_trigger
         WHERE NOT tgisinternal
         ORDER BY 1, 2""",
}
# Django's own apps (auth, admin, sessions, …) have a migration history of their own, whose
# result differs from their current models in details (ids' types); they are Django's to keep.
DJANGOS_OWN = re.compile(r"^(auth|django)_")

# Tables created from the models, as Django would from scratch, in a `tiltbob shell`.
CREATE_FROM_MODELS = """
from django.apps import apps
from django.db import connection
with connection.schema_editor() as editor:
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            editor.create_model(model)
"""


def catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        found = {part: conn.execute(query).fetchall() for part, query in CATALOG.items()}
    return {
        part: [row for row in rows if part == "functions" or not DJANGOS_OWN.match(row[0])]
        for part, rows in found.items()
    }


@pytest.fixture
def empty_databases(db_url: str) -> Iterator[tuple[str, str]]:
    """Two new, empty databases on the test server, dropped afterwards."""
    names = [f"tiltbob_schema_{which}_{uuid.uuid4().hex[:8]}" for which in ("migrated", "built")]
    params = conninfo_to_dict(db_url)
    with psycopg.connect(db_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            migrated, built = (make_conninfo("", **{**params, "dbname": name}) for name in names)
            yield migrated, built
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_from_zero_build_what_the_schema_file_and_the_models_describe(
    empty_databases: tuple[str, str],
) -> None:
    migrated, built = empty_databases
    done = run_tiltbob("migrate", db_url=migrated)
    assert done.returncode == 0, done.stderr

    done = run_tiltbob("shell", "-c", CREATE_FROM_MODELS, db_url=built)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(built) as conn:
        conn.execute(sqlfiles.schema())

    after_migrations, from_schema = catalog(migrated), catalog(built)
    assert from_schema["functions"], "sql/schema.sql created no functions"
    for part in CATALOG:
        if after_migrations[part] != from_schema[part]:
            diff = difflib.unified_diff(
                pprint.pformat(from_schema[part], width=200).splitlines(),
                pprint.pformat(after_migrations[part], width=200).splitlines(),
                "schema.sql + models",
                "migrations from zero",
                lineterm="",
            )
            pytest.fail(f"{part} differ:\n" + "\n".join(diff))


def test_every_sql_migration_is_applied_once_in_order() -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan: list[tuple[str, str]] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        plan += [key for key in loader.graph.forwards_plan(leaf) if key not in plan]
    applied = [
        operation.hints["sql_migration"]
        for key in plan
        for operation in loader.graph.nodes[key].operations
        if "sql_migration" in getattr(operation, "hints", {})
    ]
    assert applied == sqlfiles.migrations()
    numbers = [name[:4] for name in applied]
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)], "gaps or duplicates"


def test_django_migrations_read_only_sql_migration_files() -> None:
    """A migration that read a file someone edits later would run today's SQL, not its own."""
    for module in sorted(PROJECT.glob("webapp/*/migrations/0*.py")):
        text = module.read_text()
        assert "sqlfiles" not in text, f"{module}: apply SQL with sql_migrations.apply(name)"
        for name in re.findall(r"sql_migrations\.apply\(\"([^\"]+)\"\)", text):
            assert (PROJECT / "sql" / "migrations" / name).is_file(), f"{module}: no {name}"


def test_the_sql_folder_holds_no_python() -> None:
    """It is data: nothing named `sql` is importable from an installed tiltbob."""
    assert not list(Path(sqlfiles.folder()).rglob("*.py"))


def test_the_models_need_no_new_django_migration(db: None) -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
