"""capture.sql again: new reports and work logs are written to the outbox whole, at COMMIT."""

from django.db import migrations

import sql


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0003_test_messages")]

    operations = [migrations.RunSQL(sql.read("capture.sql"), migrations.RunSQL.noop)]
