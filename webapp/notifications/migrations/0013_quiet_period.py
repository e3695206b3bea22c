"""Calm bursts: an endpoint's quiet period (a digest of one person's work on one machine)."""

import datetime

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0012_forum_threads"),
    ]

    operations = [
        migrations.AddField(
            model_name="endpoint",
            name="quiet_period",
            field=models.DurationField(
                blank=True,
                help_text="Calm bursts: what one person does to one machine is held while they keep at it, and sent as one digest once they have been quiet this long (at the latest three times this long after the first). A problem report is never held. Empty: off.",
                null=True,
                verbose_name="quiet period",
            ),
        ),
        migrations.AddConstraint(
            model_name="endpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("quiet_period__isnull", True),
                    models.Q(
                        ("quiet_period__gt", datetime.timedelta(0)),
                        ("quiet_period__lte", datetime.timedelta(seconds=900)),
                        models.Q(("kind", "json"), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="notification_endpoints_quiet_period_valid",
            ),
        ),
    ]
