"""Per endpoint, the parts of its messages it leaves out (tiltbob.catalogue.FIELDS)."""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0009_endpoints_that_keep_failing"),
    ]

    operations = [
        migrations.AddField(
            model_name="endpoint",
            name="hidden_fields",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("problem_report.created:location", "Problem report created: Location"),
                        ("problem_report.created:reporter", "Problem report created: Reported by"),
                        (
                            "problem_report.created:description",
                            "Problem report created: Description",
                        ),
                        ("problem_report.closed:actor", "Problem report closed: Closed by"),
                        ("problem_report.closed:note", "Problem report closed: Note"),
                        ("problem_report.reopened:actor", "Problem report reopened: Reopened by"),
                        ("problem_report.reopened:note", "Problem report reopened: Note"),
                        ("log_entry.created:maintainers", "Work logged: Maintainers"),
                        ("log_entry.created:work_date", "Work logged: Work date"),
                        ("log_entry.created:actor", "Work logged: Logged by"),
                        ("log_entry.created:text", "Work logged: Work done"),
                        ("machine.added:location", "Machine added: Location"),
                        ("machine.added:actor", "Machine added: Added by"),
                        ("machine.added:note", "Machine added: Note"),
                        ("machine.status_changed:location", "Machine status changed: Location"),
                        ("machine.status_changed:actor", "Machine status changed: Changed by"),
                        ("machine.status_changed:note", "Machine status changed: Note"),
                        ("machine.location_changed:actor", "Machine location changed: Changed by"),
                        ("machine.location_changed:note", "Machine location changed: Note"),
                        ("endpoint.disabled:failing_since", "Endpoint turned off: Failing since"),
                        ("endpoint.disabled:failures", "Endpoint turned off: Failed attempts"),
                        ("endpoint.disabled:held", "Endpoint turned off: Held back"),
                        ("endpoint.disabled:last_error", "Endpoint turned off: Last error"),
                    ],
                    max_length=80,
                ),
                blank=True,
                db_default=models.Value(
                    [],
                    output_field=django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=80), size=None
                    ),
                ),
                default=list,
                help_text="Parts of the messages this endpoint receives that it never shows, per event type: e.g. no reporter names in a public channel. The machine, the summary and the link always stay. A json endpoint's body loses the same keys.",
                size=None,
                verbose_name="leave out of its messages",
            ),
        ),
        migrations.AddConstraint(
            model_name="endpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "hidden_fields__contained_by",
                        [
                            "problem_report.created:location",
                            "problem_report.created:reporter",
                            "problem_report.created:description",
                            "problem_report.closed:actor",
                            "problem_report.closed:note",
                            "problem_report.reopened:actor",
                            "problem_report.reopened:note",
                            "log_entry.created:maintainers",
                            "log_entry.created:work_date",
                            "log_entry.created:actor",
                            "log_entry.created:text",
                            "machine.added:location",
                            "machine.added:actor",
                            "machine.added:note",
                            "machine.status_changed:location",
                            "machine.status_changed:actor",
                            "machine.status_changed:note",
                            "machine.location_changed:actor",
                            "machine.location_changed:note",
                            "endpoint.disabled:failing_since",
                            "endpoint.disabled:failures",
                            "endpoint.disabled:held",
                            "endpoint.disabled:last_error",
                        ],
                    )
                ),
                name="notification_endpoints_hidden_fields_valid",
            ),
        ),
    ]
