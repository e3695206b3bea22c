"""Where notifications go (endpoints) and whether they go at all (switches).

The listener reads these tables directly with SQL; any change to them fires a NOTIFY that
makes every listener reload (``sql/config.sql``).
"""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now

from tiltbob.endpoint_urls import URLCipher, guess_kind, mask, validate
from tiltbob.events import ENDPOINT_KINDS, EVENT_LABELS, EVENT_TYPES

MASTER_SWITCH = "master"


def cipher() -> URLCipher:
    return URLCipher(settings.TILTBOB_SECRET_KEYS)


class Endpoint(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=[(k, k) for k in ENDPOINT_KINDS])
    # The URL, encrypted (Fernet under TILTBOB_SECRET_KEYS); never stored or shown in clear.
    url_encrypted = models.TextField(editable=False)
    # What may be shown of the URL (see tiltbob.endpoint_urls.mask).
    url_hint = models.CharField(max_length=200, editable=False)
    # A json endpoint's signing secret (whsec_…), encrypted like the URL; shown once, at creation.
    secret_encrypted = models.TextField(blank=True, default="", db_default="", editable=False)
    enabled = models.BooleanField(default=True, db_default=True)
    event_types = ArrayField(
        models.CharField(max_length=40, choices=[(t, EVENT_LABELS[t]) for t in EVENT_TYPES]),
        default=list,
        blank=True,
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "notification_endpoints"
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ENDPOINT_KINDS),
                name="notification_endpoints_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(event_types__contained_by=list(EVENT_TYPES)),
                name="notification_endpoints_event_types_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def set_url(self, url: str) -> None:
        """Validate, encrypt and remember ``url``; guess the kind if none is set yet.

        Raises :class:`tiltbob.endpoint_urls.InvalidEndpointURL` with a message fit to show.
        """
        url = validate(url, allow_http=settings.TILTBOB_ALLOW_HTTP)
        self.url_encrypted = cipher().encrypt(url)
        self.url_hint = mask(url)
        if not self.kind:
            self.kind = guess_kind(url)

    def url(self) -> str:
        return cipher().decrypt(self.url_encrypted)

    def new_signing_secret(self) -> str:
        """Give the endpoint a fresh Standard Webhooks secret and return it (to show once)."""
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.secret_encrypted = cipher().encrypt(secret)
        return secret


class Switch(models.Model):
    """The master switch (``master``) and one per event type. A missing row means on."""

    name = models.CharField(max_length=40, primary_key=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        db_table = "notification_switches"
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name}: {'on' if self.enabled else 'off'}"

    @classmethod
    def states(cls) -> dict[str, bool]:
        """Every switch, master first, with missing rows as on."""
        stored = dict(cls.objects.values_list("name", "enabled"))
        return {name: stored.get(name, True) for name in (MASTER_SWITCH, *EVENT_TYPES)}

    @classmethod
    def turn(cls, name: str, enabled: bool) -> None:
        if name not in (MASTER_SWITCH, *EVENT_TYPES):
            raise ValueError(f"unknown switch {name!r}: use master or an event type")
        cls.objects.update_or_create(name=name, defaults={"enabled": enabled})


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event for one endpoint: written by the listener's fan-out, worked off by the
    endpoint's worker (``sql/queries.sql``)."""

    # No index of its own: notification_deliveries_once (event, endpoint) leads with it, and
    # every index is one more write per delivery on the hot path.
    event = models.ForeignKey(
        "maintenance.NotificationEvent",
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # pending: to be sent (again) from next_attempt_at; delivered and failed are final.
    status = models.CharField(
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        db_default=DeliveryStatus.PENDING,
    )
    attempts = models.IntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    created_at = models.DateTimeField(db_default=Now())
    finished_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    # A short reason, never the URL.
    last_error = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "notification_deliveries"
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=("event", "endpoint"), name="notification_deliveries_once"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="notification_deliveries_status_valid",
            ),
        ]
        indexes = [
            # Each endpoint's worker reads its queue in order.
            models.Index(
                fields=("endpoint", "id"),
                condition=models.Q(status=DeliveryStatus.PENDING),
                name="notification_deliveries_queue",
            ),
            # Pruning finds old finished rows.
            models.Index(
                fields=("finished_at",),
                condition=~models.Q(status=DeliveryStatus.PENDING),
                name="notification_deliveries_done",
            ),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → endpoint {self.endpoint_id}: {self.status}"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    attempted_at = models.DateTimeField(db_default=Now())
    # NULL when no HTTP answer came (timeout, connection refused).
    status_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    duration_ms = models.FloatField()

    class Meta:
        db_table = "notification_attempts"

    def __str__(self) -> str:
        return f"attempt on delivery {self.delivery_id}: {self.status_code or self.error}"


class EndpointHealth(models.Model):
    endpoint = models.OneToOneField(
        Endpoint, on_delete=models.CASCADE, primary_key=True, related_name="health"
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.IntegerField(default=0, db_default=0)
    last_error = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "notification_endpoint_health"

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.consecutive_failures} failures in a row"
