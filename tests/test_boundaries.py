"""Who may import whom: the listener runs without Django, the web app without the listener."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import PROJECT

LISTENER_MODULES = ["listener.main", "listener.service", "listener.worker", "listener.store"]


def imported_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_listener_imports_no_django() -> None:
    loaded = imported_after("\n".join(f"import {m}" for m in LISTENER_MODULES))
    assert "listener" in loaded
    assert "django" not in loaded


def test_the_web_app_imports_no_listener() -> None:
    loaded = imported_after(
        "import django\ndjango.setup()\n"
        "from django.urls import get_resolver\nget_resolver().url_patterns\n"
        "import webapp.notifications.operations, webapp.notifications.admin\n"
        "import webapp.notifications.management.commands.endpoints\n"
        "import webapp.notifications.management.commands.switches\n"
    )
    assert "webapp" in loaded
    assert "listener" not in loaded
