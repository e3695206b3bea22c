"""The outbox and the capture triggers, from the plain SQL in ``sql/``."""

from django.db import migrations

import sql

DROP_CAPTURE = """
DROP TRIGGER IF EXISTS complete_event ON notification_events;
DROP TRIGGER IF EXISTS capture_event ON log_entries;
DROP TRIGGER IF EXISTS announce_event ON log_entries;
DROP TRIGGER IF EXISTS announce_event ON problem_reports;
DROP TRIGGER IF EXISTS capture_event ON problem_reports;
DROP TRIGGER IF EXISTS capture_event ON machines;
DROP TRIGGER IF EXISTS touch_updated_at ON problem_reports;
DROP TRIGGER IF EXISTS touch_updated_at ON machines;
DROP FUNCTION IF EXISTS tiltbob_complete_event(), tiltbob_event_snapshot(notification_events),
    tiltbob_event_snapshot(text, text, bigint, bigint, bigint, jsonb),
    tiltbob_announce(text, bigint, bigint, bigint), tiltbob_announce_problem_report(),
    tiltbob_announce_log_entry(), tiltbob_capture_log_entry(), tiltbob_capture_problem_report(), tiltbob_capture_machine(),
    tiltbob_touch_updated_at(), tiltbob_enqueue(text, bigint, bigint, bigint, jsonb),
    tiltbob_auto_log_entry(bigint, bigint, text, text, text), tiltbob_take_note(),
    tiltbob_actor_id(), tiltbob_actor(), tiltbob_problem_type_label(text), tiltbob_status_label(text);
"""


class Migration(migrations.Migration):
    dependencies = [("maintenance", "0001_initial")]

    operations = [
        migrations.RunSQL(sql.read("outbox.sql"), "DROP TABLE IF EXISTS notification_events;"),
        migrations.RunSQL(sql.read("capture.sql"), DROP_CAPTURE),
    ]
