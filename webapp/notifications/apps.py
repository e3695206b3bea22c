from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NotificationsConfig(AppConfig):
    name = "webapp.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(record_time_zone, sender=self)


def record_time_zone(using: str = "default", **_: Any) -> None:
    """After every `tiltbob migrate`: the database learns the museum's time zone, so that the
    dates it fills in itself (work dates) are the museum's (sql/migrations/0007)."""
    from django.conf import settings
    from django.db import connections

    from tiltbob import sqlfiles

    with connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regclass('tiltbob_museum') IS NOT NULL")
        (present,) = cursor.fetchone() or (False,)
        if present:  # a migration to an earlier state may leave it out
            cursor.execute(sqlfiles.query("record_time_zone"), {"time_zone": settings.TIME_ZONE})
