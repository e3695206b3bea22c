"""The database side of tiltbob, in plain SQL files a DBA can read.

Django migrations apply the schema files (``tiltbob migrate``); code runs the named queries of
``queries.sql`` by name.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import LiteralString

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def read(name: str) -> str:
    """The text of one ``.sql`` file in this folder."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def queries(name: str = "queries.sql") -> dict[str, str]:
    """The named queries of a file: ``-- name: x`` starts query ``x``, up to the next one."""
    text = read(name)
    starts = list(_NAME.finditer(text))
    named: dict[str, str] = {}
    for here, after in zip(starts, [*starts[1:], None], strict=True):
        body = text[here.end() : after.start() if after else len(text)]
        lines = [line for line in body.strip().splitlines() if not line.startswith("--")]
        named[here.group(1)] = "\n".join(lines).strip().rstrip(";")
    return named


def query(name: str) -> LiteralString:
    """One named query of ``queries.sql`` (trusted text from this package, hence literal)."""
    try:
        return queries()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/queries.sql") from None
