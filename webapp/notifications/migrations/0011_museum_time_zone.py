"""The museum's clock: its time zone in the database, and today there
(``sql/migrations/0007_museum_time_zone.sql``)."""

from django.db import migrations

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [("notifications", "0010_endpoint_hidden_fields")]

    operations = [sql_migrations.apply("0007_museum_time_zone.sql")]
