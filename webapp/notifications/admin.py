"""Notifications in the admin, for superusers only: endpoints (with health, a test button and a
one-click switch), the switches, the deliveries and the outbox.

Every page reads and writes only the database: it works with no listener running, and a change
reaches running listeners through the config NOTIFY (a trigger on the tables).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from tiltbob.catalogue import EVENT_LABELS, EVENT_TYPES
from webapp.notifications import operations
from webapp.notifications.forms import KIND_LABELS, EndpointForm, SwitchesForm
from webapp.notifications.models import (
    MASTER_SWITCH,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Event,
    Switch,
)


class SuperusersOnly:
    """Notifications are the superusers' alone: staff see them neither in the index nor at
    their URLs (403)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.is_superuser


class MasterSwitchBanner(admin.ModelAdmin[Any]):
    """Every notifications page says so while the master switch is off."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        self.banner(request)
        return super().changelist_view(request, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self.banner(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def banner(self, request: HttpRequest) -> None:
        if request.method == "GET" and not Switch.states()[MASTER_SWITCH]:
            switches = reverse("admin:notifications_switch_changelist")
            messages.warning(
                request,
                format_html(
                    'The master switch is off: no notification goes out. <a href="{}">Switches</a>',
                    switches,
                ),
            )


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


def _require_superuser(request: HttpRequest) -> None:
    if not _superuser(request):
        raise PermissionDenied


def _pages(
    model_admin: admin.ModelAdmin[Any], *pages: tuple[str, Callable[..., HttpResponse], str]
) -> list[URLPattern]:
    """A model admin's own pages: (route, view, name), each behind the admin's login."""
    return [
        path(route, model_admin.admin_site.admin_view(view), name=f"notifications_{name}")
        for route, view, name in pages
    ]


def _ago(when: Any) -> str:
    if when is None:
        return "—"
    seconds = int((timezone.now() - when).total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


class FailingFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "failing"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Failing"), ("no", "Healthy")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(health__consecutive_failures__gt=0)
        if self.value() == "no":
            return queryset.exclude(health__consecutive_failures__gt=0)
        return queryset


@admin.register(Endpoint)
class EndpointAdmin(SuperusersOnly, MasterSwitchBanner):
    form = EndpointForm
    list_display = (
        "name",
        "kind_label",
        "masked_url",
        "switch",
        "turned_off",
        "events",
        "last_success",
        "failures",
        "pending",
        "last_error",
        "refused",
    )
    list_filter = ("kind", "enabled", FailingFilter)
    search_fields = ("name",)
    actions = ("enable_selected", "disable_selected")
    fieldsets = (
        (None, {"fields": ("name", "url", "kind", "enabled")}),
        ("Event types", {"fields": ("all_events", "event_types")}),
        (
            "Delivery",
            {"fields": ("forum", "in_flight", "quiet_minutes", "disable_after_hours")},
        ),
        ("Message fields", {"fields": ("leave_out",)}),
    )
    readonly_fields = ("disabled_at", "disabled_reason")
    change_form_template = "admin/notifications/endpoint/change_form.html"
    delete_confirmation_template = "admin/notifications/endpoint/delete_confirmation.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _superuser(request)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        # One at a time, on the page that says how many pending deliveries go with it.
        actions.pop("delete_selected", None)
        return actions

    def get_queryset(self, request: HttpRequest) -> QuerySet[Endpoint]:
        pending = Q(deliveries__status=DeliveryStatus.PENDING)
        endpoints: QuerySet[Endpoint] = super().get_queryset(request)
        return endpoints.select_related("health").annotate(
            pending_count=Count("deliveries", filter=pending),
            oldest_pending=Min("deliveries__created_at", filter=pending),
        )

    # -- columns -----------------------------------------------------------------------------

    @admin.display(description="kind", ordering="kind")
    def kind_label(self, obj: Endpoint) -> str:
        label = KIND_LABELS.get(obj.kind, obj.kind) + (" forum" if obj.forum else "")
        return format_html('<span class="tiltbob-kind tiltbob-kind-{}">{}</span>', obj.kind, label)

    @admin.display(description="URL (masked)")
    def masked_url(self, obj: Endpoint) -> str:
        return obj.url_hint

    @admin.display(description="enabled", ordering="enabled")
    def switch(self, obj: Endpoint) -> str:
        # Inside the change list's own form (forms do not nest): the button posts it elsewhere.
        return format_html(
            '<button type="submit" class="button" formmethod="post" formaction="{}"'
            ' title="{}">{}</button>',
            reverse("admin:notifications_endpoint_toggle", args=[obj.pk]),
            "Click to disable" if obj.enabled else "Click to enable",
            "On" if obj.enabled else "Off",
        )

    @admin.display(description="turned off", ordering="disabled_at")
    def turned_off(self, obj: Endpoint) -> str:
        if obj.enabled or obj.disabled_at is None:
            return ""
        return f"{_ago(obj.disabled_at)} ago, {obj.disabled_reason}"

    @admin.display(description="event types")
    def events(self, obj: Endpoint) -> str:
        if set(obj.event_types) == set(EVENT_TYPES):
            return "all"
        return ", ".join(EVENT_LABELS.get(t, t) for t in obj.event_types) or "none"

    def _health(self, obj: Endpoint) -> Any:
        return getattr(obj, "health", None)  # no row yet: never attempted

    @admin.display(description="last success")
    def last_success(self, obj: Endpoint) -> str:
        health = self._health(obj)
        when = health.last_success_at if health else None
        return f"{_ago(when)} ago" if when else "never"

    @admin.display(description="failures in a row")
    def failures(self, obj: Endpoint) -> int:
        health = self._health(obj)
        return health.consecutive_failures if health else 0

    @admin.display(description="pending (oldest)")
    def pending(self, obj: Endpoint) -> str:
        count = getattr(obj, "pending_count", 0)
        return f"{count} ({_ago(obj.oldest_pending)})" if count else "0"  # type: ignore[attr-defined]

    @admin.display(description="last error")
    def last_error(self, obj: Endpoint) -> str:
        health = self._health(obj)
        return (health.last_error or "") if health and health.consecutive_failures else ""

    @admin.display(description="refused by the listener")
    def refused(self, obj: Endpoint) -> str:
        return obj.refusal() or ""

    # -- actions -----------------------------------------------------------------------------

    @admin.action(description="Enable the selected endpoints")
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected endpoints")
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Endpoint], on: bool) -> None:
        if not on:
            count = Endpoint.objects.filter(pk__in=queryset.values("pk")).update(enabled=False)
            self.message_user(request, f"{count} endpoint(s) disabled.")
            return
        # Enabled in bulk: what each held back goes out, in order (one at a time offers a choice).
        turned_on = [
            e for e in Endpoint.objects.filter(pk__in=queryset.values("pk")) if not e.enabled
        ]
        held = sum(operations.enable(endpoint, "send") for endpoint in turned_on)
        self.message_user(
            request,
            f"{len(turned_on)} endpoint(s) enabled; {held} held-back message(s) go out in order.",
        )

    # -- pages -------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        own = _pages(
            self,
            ("<int:pk>/toggle/", self.toggle_view, "endpoint_toggle"),
            ("<int:pk>/enable/", self.enable_view, "endpoint_enable"),
            ("<int:pk>/test/", self.test_view, "endpoint_test"),
            ("<int:pk>/test/<int:event_id>/", self.test_result_view, "endpoint_test_result"),
            ("<int:pk>/roll-secret/", self.roll_secret_view, "endpoint_roll_secret"),
        )
        return own + super().get_urls()

    def _endpoint(self, request: HttpRequest, pk: int) -> Endpoint:
        _require_superuser(request)
        return get_object_or_404(Endpoint, pk=pk)

    def toggle_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self._endpoint(request, pk)
        if request.method == "POST":
            if not endpoint.enabled and operations.held_back(endpoint).count:
                # Something waits: sending it or dropping it is the person's choice.
                return HttpResponseRedirect(
                    reverse("admin:notifications_endpoint_enable", args=[pk])
                )
            endpoint.enabled = not endpoint.enabled
            endpoint.save(update_fields=["enabled"])
            state = "enabled" if endpoint.enabled else "disabled"
            self.message_user(request, f"{endpoint.name} {state}.")
        return HttpResponseRedirect(reverse("admin:notifications_endpoint_changelist"))

    def enable_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Enable an endpoint that held deliveries back, sending them or dropping them."""
        endpoint = self._endpoint(request, pk)
        changelist = reverse("admin:notifications_endpoint_changelist")
        if endpoint.enabled:
            return HttpResponseRedirect(changelist)
        held = operations.held_back(endpoint)
        if request.method == "POST":
            choice = request.POST.get("held", "")
            if choice in operations.HELD_CHOICES:
                count = operations.enable(endpoint, choice)
                fate = "go out in order" if choice == "send" else "dropped"
                self.message_user(
                    request, f"{endpoint.name} enabled; {count} held-back message(s) {fate}."
                )
                return HttpResponseRedirect(changelist)
            self.message_user(request, "Choose to send or to drop them.", level=messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Enable {endpoint.name}",
            "endpoint": endpoint,
            "held": held,
            "dropped": operations.DROPPED,
        }
        return TemplateResponse(request, "admin/notifications/endpoint/enable.html", context)

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self._endpoint(request, pk)
        if request.method == "POST":
            event_type = request.POST.get("event_type", "")
            if event_type in EVENT_TYPES:
                event_id = operations.send_test_message(
                    endpoint, event_type, actor=request.user.get_username()
                )
                return HttpResponseRedirect(
                    reverse("admin:notifications_endpoint_test", args=[pk]) + f"?event={event_id}"
                )
            self.message_user(request, "Choose an event type.", level=messages.ERROR)
        self.banner(request)
        sent = request.GET.get("event", "")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Send a test message to {endpoint.name}",
            "endpoint": endpoint,
            "event_types": [(t, EVENT_LABELS[t]) for t in EVENT_TYPES],
            "chosen": request.POST.get("event_type") or (endpoint.event_types or EVENT_TYPES)[0],
            "event_id": int(sent) if sent.isdigit() else None,
        }
        return TemplateResponse(request, "admin/notifications/endpoint/test.html", context)

    def test_result_view(self, request: HttpRequest, pk: int, event_id: int) -> JsonResponse:
        endpoint = self._endpoint(request, pk)
        result = operations.result_of_test_message(endpoint, event_id)
        return JsonResponse({"state": result.state, "text": result.text, "final": result.final})

    def roll_secret_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        endpoint = self._endpoint(request, pk)
        if request.method != "POST" or endpoint.kind != "json":
            return HttpResponseRedirect(reverse("admin:notifications_endpoint_change", args=[pk]))
        secret = endpoint.new_signing_secret()
        endpoint.save(update_fields=["secret_encrypted"])
        return self._show_secret(request, endpoint, secret, rolled=True)

    def _show_secret(
        self, request: HttpRequest, endpoint: Endpoint, secret: str, *, rolled: bool
    ) -> HttpResponse:
        # Rendered into this one response only: never put into a message, a cookie or a session.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Signing secret of {endpoint.name}",
            "endpoint": endpoint,
            "secret": secret,
            "rolled": rolled,
        }
        response = TemplateResponse(request, "admin/notifications/endpoint/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def response_add(
        self, request: HttpRequest, obj: Endpoint, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(obj, "_new_signing_secret", None)
        if secret:
            return self._show_secret(request, obj, secret, rolled=False)
        return super().response_add(request, obj, post_url_continue)

    def save_model(self, request: HttpRequest, obj: Endpoint, form: Any, change: bool) -> None:
        if not change and obj.kind == "json":
            obj._new_signing_secret = obj.new_signing_secret()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)
        if change and "enabled" in form.changed_data and obj.enabled:
            held = operations.enable(obj, "send")
            if held:
                self.message_user(request, f"{held} held-back message(s) go out in order.")

    def get_fieldsets(self, request: HttpRequest, obj: Endpoint | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.disabled_at is not None and not obj.enabled:
            return ((None, {"fields": ("disabled_at", "disabled_reason")}), *fieldsets)
        return fieldsets

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        pending = Delivery.objects.filter(
            endpoint_id=object_id, status=DeliveryStatus.PENDING
        ).count()
        return super().delete_view(
            request, object_id, {**(extra_context or {}), "pending": pending}
        )


@admin.register(Switch)
class SwitchAdmin(SuperusersOnly, MasterSwitchBanner):
    """One page: the master switch and one per event type."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return _superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        _require_superuser(request)
        states = Switch.states()
        form = SwitchesForm(request.POST or None, states=states)
        if request.method == "POST" and form.is_valid():
            changed = [name for name, on in form.cleaned_data.items() if on != states[name]]
            for name in changed:
                Switch.turn(name, form.cleaned_data[name])
            self.message_user(request, f"Switches saved ({len(changed)} changed).")
            return HttpResponseRedirect(request.path)
        self.banner(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Notification switches",
            "form": form,
        }
        return TemplateResponse(request, "admin/notifications/switch/switches.html", context)


class AttemptInline(ReadOnly, admin.TabularInline[Attempt, Delivery]):
    model = Attempt
    fields = ("attempted_at", "status_code", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, EVENT_LABELS[t]) for t in EVENT_TYPES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(event__type=self.value()) if self.value() else queryset


@admin.register(Delivery)
class DeliveryAdmin(SuperusersOnly, ReadOnly, MasterSwitchBanner):
    list_display = (
        "id",
        "event_type",
        "summary",
        "endpoint",
        "status",
        "attempts",
        "next_attempt",
        "created_at",
    )
    list_filter = ("status", "endpoint", EventTypeFilter, ("created_at", admin.DateFieldListFilter))
    list_select_related = ("event", "endpoint")
    actions = ("resend_selected", "retry_selected_now")
    fields = (
        "event_type",
        "summary",
        "endpoint",
        "status",
        "attempts",
        "next_attempt",
        "created_at",
        "finished_at",
        "last_status_code",
        "last_error",
        "resend",
    )
    readonly_fields = fields
    inlines = (AttemptInline,)
    change_form_template = "admin/notifications/delivery/change_form.html"

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.type

    @admin.display(description="summary")
    def summary(self, obj: Delivery) -> str:
        snap = obj.event.snapshot if isinstance(obj.event.snapshot, dict) else {}
        machine = (snap.get("machine") or {}).get("name", "")
        text = str(snap.get("summary") or obj.event.type)
        return f"{machine}: {text}" if machine else text

    @admin.display(description="next attempt")
    def next_attempt(self, obj: Delivery) -> str:
        if obj.status != DeliveryStatus.PENDING:
            return "—"
        if obj.next_attempt_at <= timezone.now():
            return "due now"
        return f"at {timezone.localtime(obj.next_attempt_at):%H:%M:%S}"

    @admin.action(description="Resend: a new delivery of the same event, at the queue's tail")
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        new = operations.resend(list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{len(new)} delivery(ies) queued again.")

    @admin.action(description="Retry now: no more waiting out the backoff")
    def retry_selected_now(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        changed = operations.retry_now(list(queryset.values_list("id", flat=True)))
        self.message_user(
            request, f"{len(changed)} pending delivery(ies) due now (others were not waiting)."
        )

    def get_actions(self, request: HttpRequest) -> Any:
        # Deliveries are the SQL's: Django's own delete action is not offered.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        own = _pages(
            self,
            ("<int:pk>/resend/", self.resend_view, "delivery_resend"),
            ("<int:pk>/retry-now/", self.retry_now_view, "delivery_retry_now"),
        )
        return own + super().get_urls()

    def resend_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_superuser(request)
        if request.method == "POST":
            for new in operations.resend([pk]):
                self.message_user(request, f"Queued again as delivery {new}.")
                return HttpResponseRedirect(
                    reverse("admin:notifications_delivery_change", args=[new])
                )
        return HttpResponseRedirect(reverse("admin:notifications_delivery_change", args=[pk]))

    def retry_now_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require_superuser(request)
        if request.method == "POST":
            changed = operations.retry_now([pk])
            self.message_user(
                request, "Due now." if changed else "It was not waiting out a backoff."
            )
        return HttpResponseRedirect(reverse("admin:notifications_delivery_change", args=[pk]))


@admin.register(Event)
class EventAdmin(SuperusersOnly, ReadOnly, MasterSwitchBanner):
    """The outbox: the triggers write it and the listener fans it out."""

    list_display = ("id", "type", "actor", "occurred_at", "fanned_out_at")
    list_filter = ("type",)
