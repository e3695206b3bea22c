"""The maintenance records: locations, machines, maintainers, problem reports, work logs.

Table names and columns are part of tiltbob's public contract (scripts write to them), and
their defaults live in the database too, so a bare SQL INSERT behaves like the app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.urls import reverse

from tiltbob.catalogue import VISITOR


class CurrentDate(models.Func):
    """``CURRENT_DATE``, for a database default that is a date rather than a timestamp."""

    template = "CURRENT_DATE"
    output_field = models.DateField()


class Location(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    sort_order = models.IntegerField(default=0, db_default=0)

    class Meta:
        db_table = "locations"
        ordering = ("sort_order", "name")

    def __str__(self) -> str:
        return self.name


class MachineStatus(models.TextChoices):
    GOOD = "good", "Good"
    UNKNOWN = "unknown", "Unknown"
    FIXING = "fixing", "Fixing"
    BROKEN = "broken", "Broken"


class Machine(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="machines")
    status = models.CharField(
        max_length=20,
        choices=MachineStatus.choices,
        default=MachineStatus.UNKNOWN,
        db_default=MachineStatus.UNKNOWN,
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    # Kept current by a database trigger, for writers outside Django too.
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "machines"
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=MachineStatus.values), name="machines_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("machine-detail", args=[self.slug])


class Maintainer(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="maintainer"
    )
    display_name = models.CharField(max_length=100)

    class Meta:
        db_table = "maintainers"
        ordering = ("display_name",)

    def __str__(self) -> str:
        return self.display_name


class ProblemType(models.TextChoices):
    STUCK_BALL = "stuck_ball", "Stuck ball"
    NO_CREDITS = "no_credits", "No credits"
    WONT_START = "wont_start", "Won't start"
    OTHER = "other", "Other"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class ProblemReport(models.Model):
    machine = models.ForeignKey(Machine, on_delete=models.PROTECT, related_name="problem_reports")
    problem_type = models.CharField(max_length=20, choices=ProblemType.choices)
    description = models.TextField(blank=True, db_default="")
    reporter_name = models.CharField(max_length=100, blank=True, db_default="")
    reported_by = models.ForeignKey(
        Maintainer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10,
        choices=ReportStatus.choices,
        default=ReportStatus.OPEN,
        db_default=ReportStatus.OPEN,
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "problem_reports"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(problem_type__in=ProblemType.values),
                name="problem_reports_problem_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ReportStatus.values),
                name="problem_reports_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_problem_type_display()} on {self.machine}"

    def get_absolute_url(self) -> str:
        return reverse("problem-report-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == ReportStatus.OPEN

    @property
    def reporter(self) -> str:
        if self.reporter_name.strip():
            return self.reporter_name
        if self.reported_by is not None:
            return self.reported_by.display_name
        return VISITOR


class LogKind(models.TextChoices):
    MANUAL = "manual", "Work log"
    MACHINE_ADDED = "machine_added", "Machine added"
    STATUS_CHANGED = "status_changed", "Status changed"
    LOCATION_CHANGED = "location_changed", "Location changed"
    REPORT_CLOSED = "report_closed", "Report closed"
    REPORT_REOPENED = "report_reopened", "Report reopened"


class LogEntry(models.Model):
    machine = models.ForeignKey(Machine, on_delete=models.PROTECT, related_name="log_entries")
    problem_report = models.ForeignKey(
        ProblemReport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="log_entries",
    )
    kind = models.CharField(
        max_length=20, choices=LogKind.choices, default=LogKind.MANUAL, db_default=LogKind.MANUAL
    )
    text = models.TextField(blank=True, db_default="")
    # The database's default is the museum's date, tiltbob_today() (sql/migrations/0007 sets it:
    # the function is the SQL's, created after this table). A migration that alters this field
    # must set it again.
    work_date = models.DateField(db_default=CurrentDate())
    created_by = models.ForeignKey(
        Maintainer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    maintainers: models.ManyToManyField[Maintainer, LogEntryMaintainer] = models.ManyToManyField(
        Maintainer, through="LogEntryMaintainer", related_name="log_entries", blank=True
    )

    class Meta:
        db_table = "log_entries"
        ordering = ("-created_at", "-id")
        verbose_name_plural = "log entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=LogKind.values), name="log_entries_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} on {self.machine}"

    def get_absolute_url(self) -> str:
        return reverse("log-entry-detail", args=[self.pk])


class LogEntryMaintainer(models.Model):
    log_entry = models.ForeignKey(LogEntry, on_delete=models.CASCADE)
    maintainer = models.ForeignKey(Maintainer, on_delete=models.CASCADE)

    class Meta:
        db_table = "log_entry_maintainers"
        constraints = [
            models.UniqueConstraint(
                fields=("log_entry", "maintainer"), name="log_entry_maintainers_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.maintainer} on log entry #{self.log_entry_id}"


class VisitorSubmission(models.Model):
    """A report accepted from the public form: who (client address) and when, for the rate
    limits, which must hold across web processes and hosts. Kept a day."""

    address = models.GenericIPAddressField()
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "visitor_submissions"
        indexes = [
            models.Index(fields=("address", "created_at"), name="visitor_submissions_address"),
            models.Index(fields=("machine", "created_at"), name="visitor_submissions_machine"),
        ]

    def __str__(self) -> str:
        return f"{self.address} → {self.machine_id} at {self.created_at}"
