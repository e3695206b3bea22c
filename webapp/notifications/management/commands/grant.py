"""``tiltbob grant``: give the web app's, the listener's and the scripts' database roles exactly
their rights (``sql/grants.sql``). Run by the owner, after ``tiltbob migrate``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from psycopg import sql

from tiltbob import sqlfiles

KINDS = ("web", "listener", "script")


class Command(BaseCommand):
    help = (
        "Grant database roles their rights: --web ROLE (the web app), --listener ROLE (the "
        "listener and `tiltbob status`), --script ROLE (people writing the maintenance tables "
        "with psql). Run it as the role that migrates, again after every `tiltbob migrate`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for kind in KINDS:
            parser.add_argument(f"--{kind}", metavar="ROLE", help=f"the {kind} role")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = {kind: options[kind] for kind in KINDS if options[kind]}
        if not chosen:
            raise CommandError("name at least one role: --web ROLE, --listener ROLE, --script ROLE")
        with transaction.atomic(), connection.cursor() as cursor:
            for kind, role in chosen.items():
                cursor.execute(sqlfiles.query("role_exists"), {"role": role})
                if not cursor.fetchone()[0]:
                    raise CommandError(
                        f"there is no database role {role!r}: create it first (docs/security.md,"
                        " 'Database roles'); nothing was granted"
                    )
                statements = sql.SQL(sqlfiles.grant(kind)).format(role=sql.Identifier(role))
                cursor.execute(statements)
        for kind, role in chosen.items():
            self.stdout.write(f"granted {role} the {kind} role's rights")
