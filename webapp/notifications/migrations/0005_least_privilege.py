"""The capture runs with its owner's rights (``sql/migrations/0003_least_privilege.sql``)."""

from django.db import migrations

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_switch_plural")]

    operations = [sql_migrations.apply("0003_least_privilege.sql")]
