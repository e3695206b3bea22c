"""The maintenance pages. Writes run in the request's transaction (see middleware), where the
database triggers turn them into log entries and outbox events."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from webapp.maintenance import public_form
from webapp.maintenance.actor import maintainer_for, set_note
from webapp.maintenance.forms import (
    LogEntryForm,
    MachineUpdateForm,
    ProblemReportForm,
    ReportStatusForm,
)
from webapp.maintenance.models import (
    Location,
    LogEntry,
    Machine,
    ProblemReport,
    ReportStatus,
)


def posted(request: HttpRequest) -> QueryDict | None:
    """The submitted data on a POST (even an empty one, so it is validated), else None."""
    return request.POST if request.method == "POST" else None


@require_http_methods(["GET", "POST"])
def report_problem(request: HttpRequest, slug: str) -> HttpResponse:
    """The visitors' form, reached from a QR code on the machine: no login."""
    machine = get_object_or_404(Machine.objects.select_related("location"), slug=slug)
    form = ProblemReportForm(
        posted(request), initial={public_form.STARTED: public_form.started_token()}
    )
    if request.method == "POST":
        if public_form.looks_automated(request.POST.dict()):
            return redirect("report-thanks", slug=machine.slug)  # thanked, nothing written
        address = public_form.client_address(request)
        limit = public_form.over_limit(address, machine)
        if limit is not None:
            context = {"machine": machine, "limit": limit, "minutes": limit.seconds // 60}
            return render(request, "maintenance/report_limited.html", context, status=429)
        if form.is_valid():
            c = form.cleaned_data
            known = public_form.already_known(machine, c["problem_type"], c["description"])
            if known is not None:
                context = {"machine": machine, "report": known}
                return render(request, "maintenance/report_known.html", context)
            form.save(machine)
            public_form.record(address, machine)
            return redirect("report-thanks", slug=machine.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "maintenance/report_form.html", {"machine": machine, "form": form}, status=status
    )


def report_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    machine = get_object_or_404(Machine, slug=slug)
    return render(request, "maintenance/report_thanks.html", {"machine": machine})


@login_required
def machine_list(request: HttpRequest) -> HttpResponse:
    open_reports = Count("problem_reports", filter=Q(problem_reports__status=ReportStatus.OPEN))
    locations = Location.objects.prefetch_related(
        Prefetch("machines", queryset=Machine.objects.annotate(open_reports=open_reports))
    )
    return render(request, "maintenance/machine_list.html", {"locations": locations})


@login_required
@require_http_methods(["GET", "POST"])
def machine_detail(request: HttpRequest, slug: str) -> HttpResponse:
    machine = get_object_or_404(Machine.objects.select_related("location"), slug=slug)
    form = MachineUpdateForm(posted(request), instance=machine)
    if request.method == "POST" and form.is_valid():
        if form.has_changed() and ({"status", "location"} & set(form.changed_data)):
            set_note(form.cleaned_data["note"])
            form.save()
            messages.success(request, "Machine updated.")
        return redirect(machine)
    context = {
        "machine": machine,
        "form": form,
        "open_reports": machine.problem_reports.filter(status=ReportStatus.OPEN),
        "log_entries": machine.log_entries.prefetch_related("maintainers")[:20],
    }
    return render(
        request, "maintenance/machine_detail.html", context, status=400 if form.errors else 200
    )


@login_required
def problem_report_list(request: HttpRequest) -> HttpResponse:
    reports = ProblemReport.objects.filter(status=ReportStatus.OPEN).select_related(
        "machine", "machine__location"
    )
    return render(request, "maintenance/problem_report_list.html", {"reports": reports})


@login_required
@require_http_methods(["GET", "POST"])
def problem_report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(ProblemReport.objects.select_related("machine"), pk=pk)
    form = ReportStatusForm(posted(request))
    if request.method == "POST" and form.is_valid():
        wanted = ReportStatus.CLOSED if request.POST.get("action") == "close" else ReportStatus.OPEN
        if report.status != wanted:
            set_note(form.cleaned_data["note"])
            report.status = wanted
            report.save(update_fields=["status"])
            messages.success(request, f"Report {report.get_status_display().lower()}.")
        return redirect(report)
    context = {
        "report": report,
        "form": form,
        "log_entries": report.log_entries.prefetch_related("maintainers"),
    }
    return render(
        request,
        "maintenance/problem_report_detail.html",
        context,
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def log_entry_create(request: HttpRequest, slug: str) -> HttpResponse:
    machine = get_object_or_404(Machine, slug=slug)
    assert not isinstance(request.user, AnonymousUser)  # login_required
    me = maintainer_for(request.user)
    initial = {"maintainers": [me.pk], "problem_report": request.GET.get("report")}
    form = LogEntryForm(posted(request), machine=machine, initial=initial)
    if request.method == "POST" and form.is_valid():
        entry = form.save(commit=False)
        entry.machine = machine
        entry.created_by = me
        entry.save()
        # Maintainers are attached after the INSERT; the event, built at COMMIT, still names them.
        form.save_m2m()
        messages.success(request, "Work logged.")
        return redirect(entry)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "maintenance/log_entry_form.html",
        {"machine": machine, "form": form},
        status=status,
    )


@login_required
def log_entry_detail(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(
        LogEntry.objects.select_related("machine", "problem_report", "created_by").prefetch_related(
            "maintainers"
        ),
        pk=pk,
    )
    return render(request, "maintenance/log_entry_detail.html", {"entry": entry})
