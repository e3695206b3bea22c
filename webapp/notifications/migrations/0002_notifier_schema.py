"""The notifier's schema (``sql/migrations/0001_notifier.sql``), on the tables just created."""

from django.db import migrations

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0001_initial"), ("notifications", "0001_initial")]

    operations = [sql_migrations.apply("0001_notifier.sql")]
