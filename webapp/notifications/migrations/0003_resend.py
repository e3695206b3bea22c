"""Deliveries can be resent on request (``sql/migrations/0002_resend.sql``)."""

from django.db import migrations

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_notifier_schema")]

    operations = [sql_migrations.apply("0002_resend.sql")]
