"""Deletes cascade in the database too (``sql/cascade.sql``): the prune deletes deliveries that
have attempts, and an endpoint deleted in psql takes its queue along.

A later migration that alters one of these foreign keys would recreate it without the cascade:
run ``sql/cascade.sql`` again after it.
"""

from django.db import migrations

import sql


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_delivery_event_index")]

    operations = [migrations.RunSQL(sql.read("cascade.sql"), migrations.RunSQL.noop)]
