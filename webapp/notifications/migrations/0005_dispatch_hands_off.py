"""The fan-out returns the deliveries it wrote (``sql/dispatch.sql``), so an idle worker can
send them without reading its queue."""

from django.db import migrations

import sql


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_dispatch_function")]

    operations = [
        migrations.RunSQL(
            sql.read("dispatch.sql"), "DROP FUNCTION IF EXISTS tiltbob_dispatch(integer, text);"
        )
    ]
