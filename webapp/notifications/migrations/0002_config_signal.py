"""The switch lookup and the config-reload NOTIFY, from ``sql/config.sql``."""

from django.db import migrations

import sql

DROP_CONFIG = """
DROP TRIGGER IF EXISTS config_changed ON notification_switches;
DROP TRIGGER IF EXISTS config_changed ON notification_endpoints;
DROP FUNCTION IF EXISTS tiltbob_config_changed(), tiltbob_switch_on(text);
"""


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunSQL(sql.read("config.sql"), DROP_CONFIG)]
