"""Django's PostgreSQL backend, with one change: a flush (``tiltbob flush``, the tests' reset)
cascades into the notifier's tables, which the SQL owns and whose foreign keys point at
Django's endpoints; PostgreSQL refuses to truncate a table others reference otherwise."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(
        self,
        style: Any,
        tables: Any,
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=True)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
