from __future__ import annotations

from django.contrib import admin

from webapp.maintenance.models import (
    Location,
    LogEntry,
    LogEntryMaintainer,
    Machine,
    Maintainer,
    ProblemReport,
)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin[Location]):
    list_display = ("name", "slug", "sort_order")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Machine)
class MachineAdmin(admin.ModelAdmin[Machine]):
    list_display = ("name", "location", "status", "updated_at")
    list_filter = ("status", "location")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Maintainer)
class MaintainerAdmin(admin.ModelAdmin[Maintainer]):
    list_display = ("display_name", "user")
    search_fields = ("display_name", "user__username")


@admin.register(ProblemReport)
class ProblemReportAdmin(admin.ModelAdmin[ProblemReport]):
    list_display = ("id", "machine", "problem_type", "status", "reporter_name", "created_at")
    list_filter = ("status", "problem_type")
    search_fields = ("description", "reporter_name", "machine__name")


class LogEntryMaintainerInline(admin.TabularInline[LogEntryMaintainer, LogEntry]):
    model = LogEntryMaintainer
    extra = 1


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin[LogEntry]):
    list_display = ("id", "machine", "kind", "work_date", "created_at")
    list_filter = ("kind",)
    search_fields = ("text", "machine__name")
    inlines = (LogEntryMaintainerInline,)
