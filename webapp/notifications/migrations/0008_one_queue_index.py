"""One index over each endpoint's deliveries, whatever the planner's statistics
(``sql/migrations/0005_one_queue_index.sql``)."""

from django.db import migrations

from webapp.notifications import sql_migrations


class Migration(migrations.Migration):
    dependencies = [("notifications", "0007_quiet_fan_out")]

    operations = [sql_migrations.apply("0005_one_queue_index.sql")]
