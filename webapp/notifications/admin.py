"""The notifier's tables in the admin, read-only: the triggers and the listener write them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from webapp.notifications.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    """The outbox: the triggers write it and the listener fans it out."""

    list_display = ("id", "type", "actor", "occurred_at", "fanned_out_at")
    list_filter = ("type",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
