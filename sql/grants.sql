-- The rights of tiltbob's database roles besides the owner (docs/security.md, "Database roles").
-- The owner is the role that runs `tiltbob migrate`: it owns every table and function, and the
-- capture's trigger functions run with its rights. `tiltbob grant` gives a role one of the sets
-- below, `{role}` standing for it. Grants are per table: run `tiltbob grant` again after every
-- `tiltbob migrate` (compose's `migrate` service does both).

-- name: web
-- The web app: every table Django keeps; the notifier's tables read-only (the admin's lists),
-- except the admin's three writes: test messages (an event and its delivery), resend (a
-- delivery) and retry now (a delivery's next_attempt_at); and, through a function of the
-- owner's, an endpoint's held-back deliveries sent or dropped when it is enabled again.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
REVOKE INSERT, UPDATE, DELETE, TRUNCATE
    ON notification_events, notification_deliveries, notification_attempts,
       notification_endpoint_health, notification_threads, tiltbob_museum
  FROM {role};
GRANT INSERT ON notification_events TO {role};
GRANT INSERT, UPDATE (next_attempt_at) ON notification_deliveries TO {role};
GRANT EXECUTE ON FUNCTION tiltbob_settle_held_back(bigint, text, text) TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};

-- name: listener
-- The listener (and `tiltbob status`): the endpoints and switches read-only (but for turning
-- off one that keeps failing); the outbox fanned out and pruned; deliveries, attempts and
-- health written. Nothing of the maintenance tables, nor of Django's.
GRANT SELECT ON notification_endpoints, notification_switches TO {role};
GRANT SELECT, UPDATE, DELETE ON notification_events TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_deliveries TO {role};
GRANT SELECT, INSERT ON notification_attempts TO {role};
GRANT SELECT, INSERT, UPDATE ON notification_endpoint_health TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_threads TO {role};
-- Turning an endpoint off that keeps failing: the function alone (it runs with its owner's
-- rights), not the right to change endpoints.
GRANT EXECUTE ON FUNCTION tiltbob_disable_failing_endpoint(bigint, timestamptz) TO {role};

-- name: script
-- People and scripts writing with psql: the maintenance tables only. The capture still
-- produces their events (its functions run with the owner's rights); they can forge none.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON locations, machines, maintainers, problem_reports, log_entries, log_entry_maintainers
    TO {role};
