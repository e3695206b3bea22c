"""A fan-out notifies only of deliveries for endpoints its listener does not drive
(``sql/migrations/0004_quiet_fan_out.sql``)."""

from django.db import migrations

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_endpoint_in_flight")]

    operations = [sql_migrations.apply("0004_quiet_fan_out.sql")]
