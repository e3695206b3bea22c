"""The repository carries what its tests validate against, and reads nothing outside itself."""

from __future__ import annotations

import hashlib
import re
import subprocess

from tests.processes import PROJECT
from tests.specs import COMPOSE_SCHEMA, DISCORD_OPENAPI, SPECS


def test_each_copied_specification_is_the_version_its_note_names() -> None:
    note = (SPECS / "README.md").read_text()
    for spec in (DISCORD_OPENAPI, COMPOSE_SCHEMA):
        digest = hashlib.sha256(spec.read_bytes()).hexdigest()
        assert digest in note, f"{spec.relative_to(SPECS)} changed: update tests/specs/README.md"
        assert (spec.parent / "LICENSE").is_file(), f"{spec.parent.name} has no licence file"


def test_nothing_in_the_project_reads_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.sql", "Makefile", ".ci/*", "*.toml", "*.yml", "Dockerfile"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    outside = re.compile(r"\.\./shared|parent\s*/\s*\"shared\"")
    readers = [
        name for name in tracked if outside.search((PROJECT / name).read_text(errors="replace"))
    ]
    assert not readers, f"these read the shared folder beside the repository: {readers}"
