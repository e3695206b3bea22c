"""docker-compose.yml against the Compose specification's own schema (no Docker engine here)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import yaml

from tests.shared import PROJECT, SHARED


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((SHARED / "compose-spec" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_runs_the_database_the_web_app_and_the_listener() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "web", "listener"}
    assert services["web"]["command"][:2] == ["tiltbob", "run"]
    assert services["listener"]["command"] == ["tiltbob", "listen"]
    for name in ("web", "listener"):
        env = services[name]["environment"]
        assert {"DATABASE_URL", "TILTBOB_SECRET_KEYS", "SITE_URL", "SMTP_URL"} <= set(env)


def test_every_compose_variable_is_documented() -> None:
    text = (PROJECT / "docker-compose.yml").read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used, "no variables found"
    for variable in used:
        assert re.search(rf"#\s+{variable}\s", header), f"{variable} is not documented"
