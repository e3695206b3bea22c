-- The outbox: one row per event, written by the capture triggers (capture.sql) in the
-- writer's transaction, read and marked dispatched by the listener.
-- Idempotent: safe to run again.

CREATE TABLE IF NOT EXISTS notification_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type              text        NOT NULL,
    occurred_at       timestamptz NOT NULL DEFAULT now(),
    -- tiltbob.actor of the writing transaction, or the database role.
    actor             text        NOT NULL,
    -- What the event concerns. No foreign keys: an event outlives what it speaks of.
    machine_id        bigint,
    problem_report_id bigint,
    log_entry_id      bigint,
    -- Everything the message needs (names, labels, old and new values, the link's path),
    -- as the writing transaction left it at COMMIT.
    snapshot          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    dispatched_at     timestamptz
);

COMMENT ON TABLE notification_events IS
    'tiltbob outbox: written by triggers, fanned out to endpoints by the listener';

-- The listener's claim query scans only what is still to be dispatched.
CREATE INDEX IF NOT EXISTS notification_events_pending
    ON notification_events (id) WHERE dispatched_at IS NULL;
