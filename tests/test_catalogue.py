"""The names the SQL and the Python sides share are the same on both (each defines them once)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from tiltbob import catalogue
from webapp.maintenance.models import MachineStatus, ProblemType


def test_the_sql_catalogue_answers_what_the_python_one_holds(
    raw: psycopg.Connection[Any],
) -> None:
    for key, value in catalogue.SQL_KEYS.items():
        row = raw.execute("SELECT tiltbob_catalogue(%s)", [key]).fetchone()
        assert row == (value,), f"tiltbob_catalogue({key!r})"


def test_every_key_of_the_sql_catalogue_is_known_to_python(raw: psycopg.Connection[Any]) -> None:
    row = raw.execute(
        "SELECT pg_get_functiondef('tiltbob_catalogue(text)'::regprocedure)"
    ).fetchone()
    assert row is not None
    keys = set(re.findall(r"WHEN '([a-z_.]+)' THEN", row[0]))
    # The lock classes are the SQL's alone: Python takes its locks through named queries.
    assert keys - {"lock.endpoint", "lock.fan_out"} == set(catalogue.SQL_KEYS)


def test_every_event_type_has_a_label_a_description_and_a_summary() -> None:
    assert set(catalogue.EVENT_LABELS) == set(catalogue.EVENT_TYPES)
    assert set(catalogue.EVENT_DESCRIPTIONS) == set(catalogue.EVENT_TYPES)
    assert set(catalogue.SUMMARIES) == set(catalogue.EVENT_TYPES)


def test_sql_labels_match_the_django_choices(raw: psycopg.Connection[Any]) -> None:
    for value, label in MachineStatus.choices:
        assert raw.execute("SELECT tiltbob_status_label(%s)", [value]).fetchone() == (label,)
    for value, label in ProblemType.choices:
        assert raw.execute("SELECT tiltbob_problem_type_label(%s)", [value]).fetchone() == (label,)
