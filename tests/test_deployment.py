"""docker-compose.yml against the Compose specification's own schema (no Docker engine here)."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import jsonschema
import yaml

from tests.processes import PROJECT
from tests.specs import COMPOSE_SCHEMA


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_runs_the_database_the_web_app_and_the_listener() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "web", "listener"}
    assert services["web"]["command"][:2] == ["tiltbob", "run"]
    assert services["listener"]["command"] == ["tiltbob", "listen"]
    for name in ("migrate", "web", "listener"):
        env = services[name]["environment"]
        assert {"DATABASE_URL", "TILTBOB_SECRET_KEYS", "SITE_URL", "SMTP_URL"} <= set(env)


def _role(service: dict[str, Any]) -> str:
    """The user of a service's DATABASE_URL (its password is a ${...} the URL parser trips on)."""
    url = re.fullmatch(
        r"postgresql://(\w+):\$\{\w+:\?[^}]*\}@db:5432/tiltbob",
        service["environment"]["DATABASE_URL"],
    )
    assert url, service["environment"]["DATABASE_URL"]
    return url.group(1)


def test_compose_runs_each_part_under_its_own_role() -> None:
    services = compose()["services"]
    owner = services["db"]["environment"]["POSTGRES_USER"]
    assert _role(services["migrate"]) == owner
    web, listener = _role(services["web"]), _role(services["listener"])
    assert len({owner, web, listener}) == 3
    # The web app does not migrate (its role may not); it and the listener wait for the owner.
    assert "--no-migrate" in services["web"]["command"]
    for name in ("web", "listener"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    # The owner migrates, then grants each role the rights of its kind.
    script = services["migrate"]["command"][-1]
    assert script.startswith("tiltbob migrate && tiltbob grant ")
    granted = dict(re.findall(r"--(\w+) (\w+)", script))
    assert granted == {"web": web, "listener": listener, "script": "tiltbob_script"}
    # The database creates those roles when it is first created.
    mounted = {v.split(":")[0]: v.split(":")[1] for v in services["db"]["volumes"]}
    init = mounted["./deploy/postgres/create-roles.sh"]
    assert init.startswith("/docker-entrypoint-initdb.d/")
    created = re.findall(
        r"CREATE ROLE (\w+)", (PROJECT / "deploy/postgres/create-roles.sh").read_text()
    )
    assert sorted(created) == sorted(granted.values())


def test_every_compose_variable_is_documented() -> None:
    text = (PROJECT / "docker-compose.yml").read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used, "no variables found"
    for variable in used:
        assert re.search(rf"#\s+{variable}\s", header), f"{variable} is not documented"


def test_the_wheel_lists_every_package_and_installs_nothing_named_sql() -> None:
    listed = set(
        tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(PROJECT).parts)
        for top in ("tiltbob", "webapp", "listener")
        for init in (PROJECT / top).rglob("__init__.py")
    }
    # sql/ travels inside tiltbob (package-dir): it holds data, not Python.
    assert listed == found | {"tiltbob.sql", "tiltbob.sql.migrations"}
    assert not {name for name in listed if name.split(".")[0] == "sql"}


def test_secrets_stay_out_of_the_image_and_the_repository() -> None:
    for name in (".dockerignore", ".gitignore"):
        assert ".env" in (PROJECT / name).read_text().split(), f"{name} lets .env through"


def test_compose_publishes_the_web_app_on_loopback_and_checks_its_health() -> None:
    web = compose()["services"]["web"]
    assert web["ports"] == ["${TILTBOB_BIND:-127.0.0.1}:${TILTBOB_PORT:-8000}:8000"]
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    listener = compose()["services"]["listener"]
    assert listener["healthcheck"]["test"][1:] == ["tiltbob", "status", "--check"]
