"""The ``tiltbob`` command: its own commands, and every Django management command besides."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tiltbob.beside import run_beside
from tiltbob.environment import ConfigurationError

SETTINGS_MODULE = "webapp.settings"
USAGE = """usage: tiltbob COMMAND [options]

  run        migrate, then serve the web app (127.0.0.1:8000) and run the listener
  listen     run the listener alone: deliver the outbox's events to the endpoints
  migrate    create or upgrade the database: tables, outbox and triggers
  grant      give the web app's, the listener's and scripts' database roles their rights
  demo       add demo locations and machines and a superuser (password printed once)
  endpoints  add | list | show | edit | enable | disable | remove | test | roll-secret
  switches   show or set the master and per-event-type switches
  status     per endpoint: pending deliveries, oldest, last success, failures
  deliveries the delivery log (--endpoint, --status, --since); `deliveries resend ID…`
  rotate-keys  re-encrypt every stored URL and secret under the newest key
  sink       a local receiver that prints what arrives (--port P)
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
        if command == "listen":
            from listener import main as listen

            return listen.main(args[1:])
        if command == "sink":
            from listener import sink

            return sink.main(args[1:])
        if command == "status":
            from tiltbob import status

            return status.main(args[1:])
        if command == "rotate-keys":
            args[0] = "rotate_keys"  # Django's command modules cannot hold a hyphen
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


def run(args: Sequence[str]) -> int:
    """The web app (waitress, in a thread) and the listener (asyncio, in the main thread)."""
    parser = argparse.ArgumentParser(
        prog="tiltbob run", description="Migrate, then serve the web app and run the listener."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="load the demo data when the database has no machines yet",
    )
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate first (the web app's role may not; the owner runs `tiltbob migrate`)",
    )
    parser.add_argument(
        "--no-listener",
        action="store_true",
        help="serve the web app only (run `tiltbob listen` elsewhere)",
    )
    from listener import main as listen

    listen.add_arguments(parser)
    options = parser.parse_args(args)

    _setup_django()
    from django.core.management import call_command

    if not options.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    if options.demo:
        call_command("demo", if_empty=True)

    from waitress.server import create_server

    from webapp.wsgi import application

    # X-Forwarded-* reach Django, which believes them only from TILTBOB_TRUSTED_PROXIES (the
    # public form's client address) and an https SITE_URL's proxy: waitress would drop them.
    server = create_server(
        application,
        host=options.host,
        port=options.port,
        threads=8,
        clear_untrusted_proxy_headers=False,
    )
    print(f"tiltbob: serving http://{options.host}:{options.port}/ (Ctrl-C stops)", flush=True)

    # From the moment the web app serves, SIGTERM must end in a clean stop, even before the
    # listener has its own handlers: it is remembered here and answered once the listener is up.
    stop = listen.stop_requests()

    def main() -> None:
        if options.no_listener:
            stop.wait()
        else:
            listen.run_loop(listen.serve(listen.settings_from(options), stop))

    died = run_beside(server.run, server.close, main)
    if died:
        # A supervisor (compose's restart policy, systemd) restarts a process that exits so.
        sys.stderr.write(f"tiltbob: the web server stopped ({died}); stopping\n")
        return 1
    return 0
