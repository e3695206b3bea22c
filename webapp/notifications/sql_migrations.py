"""Django migrations that apply the SQL migrations of ``sql/migrations/``, one file each.

A file there is never edited once it has landed, so a Django migration may read it at any time
and always runs what it ran the first time.
"""

from __future__ import annotations

from django.db import migrations

from tiltbob import sqlfiles


def apply(name: str) -> migrations.RunSQL:
    """The operation that runs ``sql/migrations/<name>``; the hint names the file, so a test can
    check that every file is applied once, in order."""
    return migrations.RunSQL(sqlfiles.migration(name), hints={"sql_migration": name})
