"""capture.sql again: the completion trigger leaves test messages' sample snapshots alone."""

from django.db import migrations

import sql


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0002_event_capture")]

    operations = [migrations.RunSQL(sql.read("capture.sql"), migrations.RunSQL.noop)]
