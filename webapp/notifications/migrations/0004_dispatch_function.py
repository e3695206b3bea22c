"""The fan-out as one function (``sql/dispatch.sql``)."""

from django.db import migrations

import sql


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_endpoint_secret_encrypted")]

    operations = [
        migrations.RunSQL(
            sql.read("dispatch.sql"),
            # dispatch.sql is the newest version: undo whichever one this left behind.
            "DROP FUNCTION IF EXISTS tiltbob_dispatch(integer);"
            "DROP FUNCTION IF EXISTS tiltbob_dispatch(integer, text);",
        )
    ]
