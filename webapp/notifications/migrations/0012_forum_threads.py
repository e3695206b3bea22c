"""Discord forum channels: the endpoint's option here, then the SQL
(``sql/migrations/0008_forum_threads.sql``) that keeps each subject's thread."""

from django.db import migrations, models

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0011_museum_time_zone"),
    ]

    operations = [
        migrations.AddField(
            model_name="endpoint",
            name="forum",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Discord only: the webhook posts into a forum channel. Each problem report gets a thread of its own (opened by the report, then its work logs, closing and reopening), each machine another for its other events.",
                verbose_name="forum channel",
            ),
        ),
        migrations.AddConstraint(
            model_name="endpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(("forum", False), ("kind", "discord"), _connector="OR"),
                name="notification_endpoints_forum_is_discord",
            ),
        ),
        sql_migrations.apply("0008_forum_threads.sql"),
    ]
