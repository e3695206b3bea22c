"""``tiltbob demo``: a handful of locations and machines, and a superuser to log in with."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from webapp.maintenance.models import Location, Machine, MachineStatus, Maintainer

LOCATIONS = [("Floor 1", "floor-1"), ("Floor 2", "floor-2"), ("Workshop", "workshop")]
MACHINES = [
    ("Medieval Madness", "medieval-madness", "floor-1", MachineStatus.GOOD),
    ("Attack from Mars", "attack-from-mars", "floor-1", MachineStatus.GOOD),
    ("The Addams Family", "the-addams-family", "floor-1", MachineStatus.FIXING),
    ("Twilight Zone", "twilight-zone", "floor-2", MachineStatus.GOOD),
    ("Funhouse", "funhouse", "floor-2", MachineStatus.UNKNOWN),
    ("Black Knight", "black-knight", "workshop", MachineStatus.BROKEN),
]
ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = (
        "Create demo locations, machines and a superuser whose generated password is printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the database already has machines (first start only)",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        if if_empty and Machine.objects.exists():
            return
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('tiltbob.actor', 'tiltbob demo', true)")
            for order, (name, slug) in enumerate(LOCATIONS):
                Location.objects.get_or_create(
                    slug=slug, defaults={"name": name, "sort_order": order}
                )
            for name, slug, location_slug, status in MACHINES:
                Machine.objects.get_or_create(
                    slug=slug,
                    defaults={
                        "name": name,
                        "status": status,
                        "location": Location.objects.get(slug=location_slug),
                    },
                )
            password = self._superuser()
        self.stdout.write(f"Demo data ready: {len(LOCATIONS)} locations, {len(MACHINES)} machines.")
        if password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Superuser created: {ADMIN_USERNAME} / {password}\n"
                    "This password is shown only now; change it in the admin if you lose it "
                    "(`tiltbob changepassword admin`)."
                )
            )

    def _superuser(self) -> str | None:
        users = get_user_model()
        if users.objects.filter(username=ADMIN_USERNAME).exists():
            return None
        password = secrets.token_urlsafe(12)
        user = users.objects.create_superuser(ADMIN_USERNAME, "", password)
        Maintainer.objects.create(user=user, display_name="Museum admin")
        return password
