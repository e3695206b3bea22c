"""Endpoints that keep failing are turned off by the listener: its columns here, then the SQL
(``sql/migrations/0006_endpoints_that_keep_failing.sql``), which reads them."""

import datetime

import django.contrib.postgres.fields
from django.db import migrations, models

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0008_one_queue_index"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="endpoint",
            name="notification_endpoints_event_types_valid",
        ),
        migrations.AddField(
            model_name="endpoint",
            name="disable_after",
            field=models.DurationField(
                blank=True,
                db_default=datetime.timedelta(days=1),
                default=datetime.timedelta(days=1),
                help_text="The listener turns the endpoint off once it has failed continuously this long (any success starts the clock again); what it holds back waits, to be sent or dropped when it is enabled again, and subscribers of “Endpoint turned off” are told. Empty: never.",
                null=True,
                verbose_name="turn off after failing for",
            ),
        ),
        migrations.AddField(
            model_name="endpoint",
            name="disabled_at",
            field=models.DateTimeField(editable=False, null=True, verbose_name="turned off at"),
        ),
        migrations.AddField(
            model_name="endpoint",
            name="disabled_reason",
            field=models.TextField(
                blank=True, db_default="", default="", editable=False, verbose_name="why turned off"
            ),
        ),
        migrations.AlterField(
            model_name="endpoint",
            name="event_types",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("problem_report.created", "Problem report created"),
                        ("problem_report.closed", "Problem report closed"),
                        ("problem_report.reopened", "Problem report reopened"),
                        ("log_entry.created", "Work logged"),
                        ("machine.added", "Machine added"),
                        ("machine.status_changed", "Machine status changed"),
                        ("machine.location_changed", "Machine location changed"),
                        ("endpoint.disabled", "Endpoint turned off"),
                    ],
                    max_length=40,
                ),
                blank=True,
                default=list,
                size=None,
            ),
        ),
        migrations.AddConstraint(
            model_name="endpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "event_types__contained_by",
                        [
                            "problem_report.created",
                            "problem_report.closed",
                            "problem_report.reopened",
                            "log_entry.created",
                            "machine.added",
                            "machine.status_changed",
                            "machine.location_changed",
                            "endpoint.disabled",
                        ],
                    )
                ),
                name="notification_endpoints_event_types_valid",
            ),
        ),
        sql_migrations.apply("0006_endpoints_that_keep_failing.sql"),
    ]
