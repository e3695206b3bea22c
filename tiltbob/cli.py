"""The ``tiltbob`` command: its own commands, and every Django management command besides."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from tiltbob.environment import ConfigurationError

SETTINGS_MODULE = "webapp.settings"
USAGE = """usage: tiltbob COMMAND [options]

  run        migrate, then serve the web app (127.0.0.1:8000 by default)
  migrate    create or upgrade the database: tables, outbox and triggers
  demo       add demo locations and machines and a superuser (password printed once)
  help       every other command: all of Django's management commands work too
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "help"
    try:
        if command in {"-h", "--help"}:
            sys.stdout.write(USAGE)
            return 0
        if command == "run":
            return run(args[1:])
        return django_command(args)
    except ConfigurationError as error:
        sys.stderr.write(f"tiltbob: configuration error: {error}\n")
        return 2


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django

    django.setup()


def django_command(args: Sequence[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["tiltbob", *args])
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM ends the process like Ctrl-C, so exit handlers (the embedded server's stop) run."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run(args: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tiltbob run", description="Migrate, then serve the web app."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="load the demo data when the database has no machines yet",
    )
    options = parser.parse_args(args)

    _stop_on_sigterm()
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    if options.demo:
        call_command("demo", if_empty=True)

    import waitress

    from webapp.wsgi import application

    print(f"tiltbob: serving http://{options.host}:{options.port}/ (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        waitress.serve(application, host=options.host, port=options.port, threads=8, _quiet=True)
    return 0
