"""Where notifications go (endpoints) and whether they go at all (switches), which people edit
and Django owns; and read-only maps of the notifier's tables, which the SQL owns.

The listener reads endpoints and switches directly with SQL; any change to them fires a NOTIFY
that makes every listener reload (``sql/schema.sql``).
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Value
from django.db.models.functions import Now

from tiltbob.catalogue import ENDPOINT_KINDS, EVENT_LABELS, EVENT_TYPES, field_choices
from tiltbob.endpoint_urls import (
    InvalidEndpointURL,
    URLCipher,
    forbidden,
    guess_kind,
    is_address,
    mask,
    validate,
)

MASTER_SWITCH = "master"
MAX_IN_FLIGHT = 32
MAX_QUIET_PERIOD = timedelta(minutes=15)
DISABLE_AFTER = timedelta(hours=24)
"""How long an endpoint fails continuously before the listener turns it off, unless set."""


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
    in_flight = models.PositiveSmallIntegerField(
        "in flight",
        default=1,
        db_default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_IN_FLIGHT)],
        help_text=(
            "How many messages may be on their way to this endpoint at once. 1 (the default): "
            "one at a time, strictly in order. Above 1: up to that many at once, faster to an "
            "endpoint far away, and the order is not promised (a receiver can order by the "
            "message's timestamp and drop duplicates by its webhook-id)."
        ),
    )
    disable_after = models.DurationField(
        "turn off after failing for",
        null=True,
        blank=True,
        default=DISABLE_AFTER,
        db_default=DISABLE_AFTER,
        help_text=(
            "The listener turns the endpoint off once it has failed continuously this long (any "
            "success starts the clock again); what it holds back waits, to be sent or dropped "
            "when it is enabled again, and subscribers of “Endpoint turned off” are told. "
            "Empty: never."
        ),
    )
    forum = models.BooleanField(
        "forum channel",
        default=False,
        db_default=False,
        help_text=(
            "Discord only: the webhook posts into a forum channel. Each problem report gets a "
            "thread of its own (opened by the report, then its work logs, closing and "
            "reopening), each machine another for its other events."
        ),
    )
    quiet_period = models.DurationField(
        "quiet period",
        null=True,
        blank=True,
        help_text=(
            "Calm bursts: what one person does to one machine is held while they keep at it, "
            "and sent as one digest once they have been quiet this long (at the latest three "
            "times this long after the first). A problem report is never held. Empty: off."
        ),
    )
    hidden_fields = ArrayField(
        models.CharField(max_length=80, choices=field_choices()),
        verbose_name="leave out of its messages",
        default=list,
        db_default=Value([], output_field=ArrayField(models.CharField(max_length=80))),
        blank=True,
        help_text=(
            "Parts of the messages this endpoint receives that it never shows, per event type: "
            "e.g. no reporter names in a public channel. The machine, the summary and the link "
            "always stay. A json endpoint's body loses the same keys."
        ),
    )
    # Set by the listener when it turned the endpoint off (and cleared by the database when it
    # is enabled again, whoever does it).
    disabled_at = models.DateTimeField("turned off at", null=True, editable=False)
    disabled_reason = models.TextField(
        "why turned off", blank=True, default="", db_default="", editable=False
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "notification_endpoints"
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(in_flight__gte=1, in_flight__lte=MAX_IN_FLIGHT),
                name="notification_endpoints_in_flight_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ENDPOINT_KINDS),
                name="notification_endpoints_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(event_types__contained_by=list(EVENT_TYPES)),
                name="notification_endpoints_event_types_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(hidden_fields__contained_by=[c for c, _ in field_choices()]),
                name="notification_endpoints_hidden_fields_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(forum=False) | models.Q(kind="discord"),
                name="notification_endpoints_forum_is_discord",
            ),
            models.CheckConstraint(
                condition=models.Q(quiet_period__isnull=True)
                | models.Q(
                    quiet_period__gt=timedelta(0),
                    quiet_period__lte=MAX_QUIET_PERIOD,
                )
                & ~models.Q(kind="json"),
                name="notification_endpoints_quiet_period_valid",
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

    def refusal(self) -> str | None:
        """Why a listener with this app's settings will not drive this endpoint, or None."""
        try:
            url = self.url()
        except InvalidEndpointURL as error:
            return str(error)
        if url.startswith("http://") and not settings.TILTBOB_ALLOW_HTTP:
            return "plain http:// URL, and TILTBOB_ALLOW_HTTP is not set: enter an https:// URL"
        host = urlsplit(url).hostname or ""
        if is_address(host) and forbidden(host) and not settings.TILTBOB_ALLOW_PRIVATE_ENDPOINTS:
            return (
                f"{host} is a private, loopback or link-local address, and "
                "TILTBOB_ALLOW_PRIVATE_ENDPOINTS is not set"
            )
        return None

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
        verbose_name_plural = "switches"

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


# -- The notifier's runtime tables: created and written by SQL (sql/schema.sql), read here. --


class ReadOnlyModel(models.Model):
    """A table the SQL owns: Django maps it for reading and never writes it."""

    class Meta:
        abstract = True
        managed = False

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"{self._meta.db_table} is written by the notifier's SQL, not by Django")

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{self._meta.db_table} is written by the notifier's SQL, not by Django")


class Event(ReadOnlyModel):
    """A row of the outbox: written by the capture triggers, fanned out by the listener."""

    type = models.TextField()
    occurred_at = models.DateTimeField()
    actor = models.TextField()
    machine_id = models.BigIntegerField(null=True)
    problem_report_id = models.BigIntegerField(null=True)
    log_entry_id = models.BigIntegerField(null=True)
    snapshot = models.JSONField()
    fanned_out_at = models.DateTimeField(null=True)

    class Meta(ReadOnlyModel.Meta):
        db_table = "notification_events"
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Delivery(ReadOnlyModel):
    """One event for one endpoint: written by the listener's fan-out, worked off by the
    endpoint's worker."""

    # DO_NOTHING: the database cascades (the foreign keys are the SQL's own).
    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.DO_NOTHING, related_name="deliveries")
    # pending: to be sent (again) from next_attempt_at; delivered and failed are final.
    status = models.TextField(choices=DeliveryStatus.choices)
    attempts = models.IntegerField()
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    last_status_code = models.IntegerField(null=True)
    # A short reason, never the URL.
    last_error = models.TextField(null=True)
    # 0 for the fan-out's delivery; 1, 2, … for each resend of it.
    resend = models.IntegerField()

    class Meta(ReadOnlyModel.Meta):
        db_table = "notification_deliveries"
        verbose_name_plural = "deliveries"
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"event {self.event_id} → endpoint {self.endpoint_id}: {self.status}"


class Attempt(ReadOnlyModel):
    delivery = models.ForeignKey(Delivery, on_delete=models.DO_NOTHING, related_name="attempt_set")
    attempted_at = models.DateTimeField()
    # NULL when no HTTP answer came (timeout, connection refused).
    status_code = models.IntegerField(null=True)
    error = models.TextField(null=True)
    duration_ms = models.FloatField()

    class Meta(ReadOnlyModel.Meta):
        db_table = "notification_attempts"
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"attempt on delivery {self.delivery_id}: {self.status_code or self.error}"


class EndpointHealth(ReadOnlyModel):
    endpoint = models.OneToOneField(
        Endpoint, on_delete=models.DO_NOTHING, primary_key=True, related_name="health"
    )
    last_success_at = models.DateTimeField(null=True)
    last_failure_at = models.DateTimeField(null=True)
    consecutive_failures = models.IntegerField()
    last_error = models.TextField(null=True)

    class Meta(ReadOnlyModel.Meta):
        db_table = "notification_endpoint_health"

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.consecutive_failures} failures in a row"
