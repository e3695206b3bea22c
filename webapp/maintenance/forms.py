from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from webapp.maintenance.models import (
    Location,
    LogEntry,
    Machine,
    MachineStatus,
    Maintainer,
    ProblemReport,
    ProblemType,
)

DESCRIPTION_LIMIT = 2000
NAME_LIMIT = 100
NOTE_LIMIT = 2000
WORK_TEXT_LIMIT = 10000


def _too_long(what: str, limit: int) -> str:
    return (
        f"{what} is too long: please keep it under {limit:,} characters "
        "(yours has %(show_value)s). Your text is still here to shorten."
    )


class LongTextArea(forms.Textarea):
    """A textarea without the browser's ``maxlength``: a paste over the limit must not be cut
    silently; the server says it is too long and hands the whole text back."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("maxlength", None)
        return context


def limited_text(what: str, limit: int, *, required: bool, rows: int = 4) -> forms.CharField:
    return forms.CharField(
        required=required,
        max_length=limit,
        strip=True,
        widget=LongTextArea(attrs={"rows": rows, "data-limit": limit}),
        error_messages={"max_length": _too_long(what, limit)},
    )


class ProblemReportForm(forms.Form):
    """The public form a visitor fills in, standing in front of the machine."""

    problem_type = forms.ChoiceField(
        choices=ProblemType.choices, widget=forms.RadioSelect, label="What is wrong?"
    )
    description = limited_text("The description", DESCRIPTION_LIMIT, required=False)
    reporter_name = forms.CharField(
        required=False,
        max_length=NAME_LIMIT,
        label="Your name (optional)",
        error_messages={"max_length": _too_long("The name", NAME_LIMIT)},
    )

    # Traps for bots (webapp/maintenance/public_form.py): a field people do not see, and when
    # the form was shown, signed.
    website = forms.CharField(required=False, label="Leave this empty")
    started = forms.CharField(required=False, widget=forms.HiddenInput)

    def save(self, machine: Machine) -> ProblemReport:
        c = self.cleaned_data
        return ProblemReport.objects.create(
            machine=machine,
            problem_type=c["problem_type"],
            description=c["description"],
            reporter_name=c["reporter_name"],
        )


class MachineUpdateForm(forms.ModelForm[Machine]):
    status = forms.ChoiceField(choices=MachineStatus.choices)
    location = forms.ModelChoiceField(queryset=Location.objects.all(), empty_label=None)
    note = limited_text("The note", NOTE_LIMIT, required=False, rows=2)

    class Meta:
        model = Machine
        fields = ("status", "location")


class ReportStatusForm(forms.Form):
    note = limited_text("The note", NOTE_LIMIT, required=False, rows=2)


class ReportChoiceField(forms.ModelChoiceField[ProblemReport]):
    def label_from_instance(self, obj: ProblemReport) -> str:
        return f"#{obj.pk} {obj.get_problem_type_display()} ({obj.get_status_display()})"


class LogEntryForm(forms.ModelForm[LogEntry]):
    text = limited_text("The work log", WORK_TEXT_LIMIT, required=True, rows=6)
    work_date = forms.DateField(
        initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    maintainers = forms.ModelMultipleChoiceField(
        queryset=Maintainer.objects.all(), widget=forms.CheckboxSelectMultiple, required=False
    )
    problem_report = ReportChoiceField(
        queryset=ProblemReport.objects.none(), required=False, label="For problem report"
    )

    class Meta:
        model = LogEntry
        fields = ("text", "work_date", "maintainers", "problem_report")
        labels = {"text": "Work done"}

    def __init__(self, *args: Any, machine: Machine, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reports = self.fields["problem_report"]
        assert isinstance(reports, ReportChoiceField)
        reports.queryset = machine.problem_reports.all()
