"""``tiltbob rotate-keys``: re-encrypt every stored URL and signing secret under the newest key
of TILTBOB_SECRET_KEYS, in one transaction."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tiltbob.endpoint_urls import InvalidEndpointURL
from webapp.notifications.models import Endpoint, cipher


class Command(BaseCommand):
    help = (
        "Re-encrypt every endpoint URL and signing secret under the newest key of "
        "TILTBOB_SECRET_KEYS (put the new key first, run this, then drop the old ones)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = cipher()
        urls = secrets = 0
        with transaction.atomic():
            for endpoint in Endpoint.objects.select_for_update().order_by("id"):
                try:
                    endpoint.url_encrypted = keys.rotate(endpoint.url_encrypted)
                    urls += 1
                    if endpoint.secret_encrypted:
                        endpoint.secret_encrypted = keys.rotate(endpoint.secret_encrypted)
                        secrets += 1
                except InvalidEndpointURL:
                    raise CommandError(
                        f"endpoint {endpoint.pk} ({endpoint.name}) cannot be decrypted with any "
                        "key of TILTBOB_SECRET_KEYS: nothing was changed. Put back the key it "
                        "was stored with, or enter its URL again, then run this again."
                    ) from None
                endpoint.save(update_fields=["url_encrypted", "secret_encrypted"])
        self.stdout.write(
            f"re-encrypted {urls} endpoint URL(s) and {secrets} signing secret(s) under the "
            "newest key.\nOnce every tiltbob process (web app, listeners) runs with the new "
            "TILTBOB_SECRET_KEYS, the older keys can be dropped from it; logins signed with an "
            "older key then end (people log in again)."
        )
