"""The plain SQL of ``sql/``: the migrations, by file name; the named queries of
``queries.sql`` and the roles' grants of ``grants.sql``, by name.

In a checkout (and an editable install) the folder is ``sql/`` beside this package; an installed
wheel carries it inside the package as ``tiltbob/sql/`` (pyproject.toml maps it there).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import LiteralString

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def folder() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "sql", here / "sql"):
        if (candidate / "queries.sql").is_file():
            return candidate
    raise FileNotFoundError(f"tiltbob's SQL files are missing: looked in {here.parent / 'sql'}")


def migrations() -> list[str]:
    """The migration files' names, in the order they apply (``NNNN_what.sql``)."""
    return sorted(p.name for p in (folder() / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migration(name: str) -> str:
    """The text of one migration file, e.g. ``0001_notifier.sql``."""
    return (folder() / "migrations" / name).read_text(encoding="utf-8")


def schema() -> str:
    """``schema.sql``: the whole current schema of the SQL-owned parts."""
    return (folder() / "schema.sql").read_text(encoding="utf-8")


@cache
def _named(file: str) -> dict[str, str]:
    """A file of named statements: ``-- name: x`` starts ``x``, up to the next one; comment
    lines and the last semicolon dropped."""
    text = (folder() / file).read_text(encoding="utf-8")
    starts = list(_NAME.finditer(text))
    named: dict[str, str] = {}
    for here, after in zip(starts, [*starts[1:], None], strict=True):
        body = text[here.end() : after.start() if after else len(text)]
        lines = [line for line in body.strip().splitlines() if not line.startswith("--")]
        named[here.group(1)] = "\n".join(lines).strip().rstrip(";")
    return named


def _one(file: str, name: str) -> LiteralString:
    """One named statement of ``file`` (trusted text shipped with tiltbob, hence literal)."""
    try:
        return _named(file)[name]
    except KeyError:
        raise KeyError(f"nothing named {name!r} in sql/{file}") from None


def query(name: str) -> LiteralString:
    """One named query of ``queries.sql``."""
    return _one("queries.sql", name)


def grant(kind: str) -> LiteralString:
    """The statements giving a role of this kind (``web``, ``listener``, ``script``) its
    rights, from ``grants.sql``; ``{role}`` stands for the role, still to fill in."""
    return _one("grants.sql", kind)
