"""The admin's forms for endpoints and switches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from tiltbob.catalogue import EVENT_DESCRIPTIONS, EVENT_LABELS, EVENT_TYPES, FIELDS
from tiltbob.endpoint_urls import InvalidEndpointURL, guess_kind, validate_for_kind
from webapp.notifications.models import DISABLE_AFTER, MASTER_SWITCH, MAX_QUIET_PERIOD, Endpoint

KIND_LABELS = {"discord": "Discord", "slack": "Slack", "email": "Email", "json": "JSON webhook"}


def hours(duration: timedelta) -> Decimal:
    """A duration in hours, as the forms and the CLI show it (two decimals)."""
    return Decimal(duration.total_seconds() / 3600).quantize(Decimal("0.01"))


class EndpointForm(forms.ModelForm[Endpoint]):
    url = forms.CharField(
        label="URL",
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 70, "spellcheck": "false"}),
    )
    kind = forms.ChoiceField(
        choices=[("", "Guess from the URL"), *KIND_LABELS.items()], required=False
    )
    all_events = forms.BooleanField(label="All event types", required=False)
    event_types = forms.MultipleChoiceField(
        choices=[(t, f"{EVENT_LABELS[t]} ({t})") for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Event types",
    )

    # Not "hidden_fields", the model's name: that is a form's own method.
    leave_out = forms.MultipleChoiceField(
        choices=[
            (EVENT_LABELS[t], [(f"{t}:{key}", label) for key, label in FIELDS[t]])
            for t in EVENT_TYPES
        ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Leave out of its messages",
        help_text=Endpoint._meta.get_field("hidden_fields").help_text,
    )
    quiet_minutes = forms.DecimalField(
        label="Quiet period (minutes)",
        required=False,
        min_value=Decimal("0.1"),
        max_value=Decimal(MAX_QUIET_PERIOD.total_seconds() / 60),
        decimal_places=1,
        help_text=Endpoint._meta.get_field("quiet_period").help_text,
    )
    disable_after_hours = forms.DecimalField(
        label="Turn off after failing for (hours)",
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal(24 * 365),
        decimal_places=2,
        help_text=Endpoint._meta.get_field("disable_after").help_text,
    )

    class Meta:
        model = Endpoint
        fields = ("name", "kind", "enabled", "forum", "in_flight", "event_types")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Write-only: the stored URL is never put into the page, not even as a hidden value.
        self.initial.pop("url", None)
        # Left blank (or posted by a script that does not know it): one at a time, in order.
        self.fields["in_flight"].required = False
        if self.instance.pk:
            self.fields["url"].help_text = (
                f"Stored: {self.instance.url_hint}. Leave blank to keep it; type a new one to"
                " replace it."
            )
            self.initial["all_events"] = set(self.instance.event_types) == set(EVENT_TYPES)
            self.initial["leave_out"] = list(self.instance.hidden_fields)
        else:
            self.fields["url"].required = True
            self.fields["url"].help_text = (
                "A Discord or Slack webhook URL, mailto: addresses, or an https:// URL for JSON."
                " It is stored encrypted and never shown again."
            )
        after = self.instance.disable_after if self.instance.pk else DISABLE_AFTER
        self.initial["disable_after_hours"] = None if after is None else hours(after)
        quiet = self.instance.quiet_period
        self.initial["quiet_minutes"] = None if quiet is None else quiet.total_seconds() / 60

    def clean_in_flight(self) -> int:
        value = self.cleaned_data.get("in_flight")
        return 1 if value is None else int(value)

    def clean_event_types(self) -> list[str]:
        if self.data.get(self.add_prefix("all_events")) in {"on", "true", "1", "True"}:
            return list(EVENT_TYPES)
        return list(self.cleaned_data.get("event_types") or [])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        url = cleaned.get("url") or ""
        if not url:
            if not self.instance.pk:
                self.add_error("url", "Enter the endpoint's URL.")
            return cleaned
        kind = cleaned.get("kind") or guess_kind(url)
        if cleaned.get("quiet_minutes") and kind == "json":
            self.add_error("quiet_minutes", "A json endpoint gets every event as it happens.")
        if cleaned.get("forum") and kind != "discord":
            self.add_error("forum", "Only a Discord endpoint posts into a forum channel.")
        try:
            cleaned["url"] = validate_for_kind(url, kind, allow_http=settings.TILTBOB_ALLOW_HTTP)
        except InvalidEndpointURL as error:
            self.add_error("url", str(error))
        cleaned["kind"] = kind
        return cleaned

    def save(self, commit: bool = True) -> Endpoint:
        endpoint = super().save(commit=False)
        url = self.cleaned_data.get("url")
        if url:
            endpoint.set_url(url)
        if self.cleaned_data.get("kind"):
            endpoint.kind = self.cleaned_data["kind"]
        # Left out of the post (a script that does not know the field): unchanged. Blank: never.
        endpoint.hidden_fields = list(self.cleaned_data.get("leave_out") or [])
        if self.add_prefix("quiet_minutes") in self.data:
            quiet = self.cleaned_data.get("quiet_minutes")
            endpoint.quiet_period = None if quiet is None else timedelta(minutes=float(quiet))
        if self.add_prefix("disable_after_hours") in self.data:
            after = self.cleaned_data.get("disable_after_hours")
            endpoint.disable_after = None if after is None else timedelta(hours=float(after))
        if commit:
            endpoint.save()
        return endpoint


class SwitchesForm(forms.Form):
    """The master switch and one per event type, each with when it fires."""

    def __init__(self, *args: Any, states: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[MASTER_SWITCH] = forms.BooleanField(
            label="Master switch",
            required=False,
            initial=states[MASTER_SWITCH],
            help_text="Off: nothing goes out at all, whatever the other switches say.",
        )
        for event_type in EVENT_TYPES:
            self.fields[event_type] = forms.BooleanField(
                label=f"{EVENT_LABELS[event_type]} ({event_type})",
                required=False,
                initial=states[event_type],
                help_text=EVENT_DESCRIPTIONS[event_type],
            )
