-- The listener's queries, by name. Each starts with `-- name: <name>` and a one-line comment;
-- listener/queries.py loads them and the code calls them by name.

-- name: dispatch_events
-- Fan out a batch of undispatched events (sql/dispatch.sql); returns (events, endpoint_ids).
SELECT events, endpoint_ids FROM tiltbob_dispatch(%(batch)s);

-- name: notify_deliveries
-- Wake every listener's workers: new deliveries were committed.
SELECT pg_notify('tiltbob_deliveries', '');

-- name: load_endpoints
-- Every endpoint, with its encrypted URL and signing secret, for the listener's cached config.
SELECT id, name, kind, url_encrypted, secret_encrypted, enabled, event_types
  FROM notification_endpoints
 ORDER BY id;

-- name: enqueue_test_message
-- A test message: an event of the given type carrying sample data, delivered to one endpoint
-- only (already dispatched, so the fan-out leaves it alone). Returns the event's id.
WITH event AS (
    INSERT INTO notification_events (type, actor, snapshot, dispatched_at)
    VALUES (%(type)s, %(actor)s, %(snapshot)s, now())
    RETURNING id
)
INSERT INTO notification_deliveries (event_id, endpoint_id)
SELECT id, %(endpoint_id)s FROM event
RETURNING event_id;

-- name: try_lock_endpoint
-- Become the one process that drives this endpoint (session advisory lock; released when the
-- session ends, so a dead process's endpoints are taken over).
SELECT pg_try_advisory_lock(7103, %(endpoint_id)s::int) AS locked;

-- name: unlock_endpoint
-- Stop driving this endpoint.
SELECT pg_advisory_unlock(7103, %(endpoint_id)s::int) AS unlocked;

-- name: next_deliveries
-- The oldest pending deliveries of one endpoint, in order, with what their messages need.
SELECT d.id, d.event_id, d.attempts, d.next_attempt_at, d.created_at,
       ev.type, ev.occurred_at, ev.actor, ev.snapshot
  FROM notification_deliveries d
  JOIN notification_events ev ON ev.id = d.event_id
 WHERE d.endpoint_id = %(endpoint_id)s AND d.status = 'pending'
 ORDER BY d.id
 LIMIT %(limit)s;

-- name: record_outcome
-- One attempt's outcome for the deliveries one message carried: their new state (pending again
-- from next_attempt_at, delivered or failed), one attempt row each, and the endpoint's health.
WITH updated AS (
    UPDATE notification_deliveries
       SET status = %(status)s::text,
           attempts = attempts + 1,
           next_attempt_at = coalesce(%(next_attempt_at)s::timestamptz, next_attempt_at),
           finished_at = CASE WHEN %(status)s::text = 'pending' THEN NULL ELSE now() END,
           last_status_code = %(status_code)s::integer,
           last_error = %(error)s::text
     WHERE id = ANY (%(ids)s)
    RETURNING id
), attempts AS (
    INSERT INTO notification_attempts (delivery_id, status_code, error, duration_ms)
    SELECT id, %(status_code)s::integer, %(error)s::text, %(duration_ms)s::float8 FROM updated
), health AS (
    INSERT INTO notification_endpoint_health
           (endpoint_id, last_success_at, last_failure_at, consecutive_failures, last_error)
    VALUES (%(endpoint_id)s::bigint,
            CASE WHEN %(succeeded)s::boolean THEN now() END,
            CASE WHEN %(succeeded)s::boolean THEN NULL ELSE now() END,
            CASE WHEN %(succeeded)s::boolean THEN 0 ELSE 1 END,
            CASE WHEN %(succeeded)s::boolean THEN NULL ELSE %(error)s::text END)
        ON CONFLICT (endpoint_id) DO UPDATE
       SET last_success_at = coalesce(excluded.last_success_at, notification_endpoint_health.last_success_at),
           last_failure_at = coalesce(excluded.last_failure_at, notification_endpoint_health.last_failure_at),
           consecutive_failures = CASE WHEN %(succeeded)s::boolean THEN 0
                                       ELSE notification_endpoint_health.consecutive_failures + 1 END,
           last_error = coalesce(excluded.last_error, notification_endpoint_health.last_error)
)
SELECT count(*) FROM updated;

-- name: prune
-- Forget finished deliveries, and dispatched events with nothing left pending, older than the cutoff.
WITH gone AS (
    DELETE FROM notification_deliveries
     WHERE status <> 'pending' AND finished_at < %(cutoff)s
    RETURNING id
), events AS (
    -- Only events none of whose deliveries outlive this statement (the CTEs share a snapshot).
    DELETE FROM notification_events ev
     WHERE ev.dispatched_at < %(cutoff)s
       AND NOT EXISTS (SELECT 1 FROM notification_deliveries d
                        WHERE d.event_id = ev.id AND d.id NOT IN (SELECT id FROM gone))
    RETURNING id
)
SELECT (SELECT count(*) FROM gone) AS deliveries, (SELECT count(*) FROM events) AS events;

-- name: endpoint_status
-- Per endpoint: its queue and its health, for `tiltbob status`.
SELECT e.id, e.name, e.kind, e.enabled, e.url_hint,
       count(d.id) AS pending,
       now() - min(d.created_at) AS oldest_pending_age,
       h.last_success_at, h.last_failure_at, coalesce(h.consecutive_failures, 0) AS consecutive_failures,
       h.last_error,
       (SELECT count(*) FROM notification_deliveries f
         WHERE f.endpoint_id = e.id AND f.status = 'failed') AS failed
  FROM notification_endpoints e
  LEFT JOIN notification_deliveries d ON d.endpoint_id = e.id AND d.status = 'pending'
  LEFT JOIN notification_endpoint_health h ON h.endpoint_id = e.id
 GROUP BY e.id, h.endpoint_id
 ORDER BY e.id;

-- name: undispatched_events
-- Events committed but not yet fanned out, for `tiltbob status`.
SELECT count(*) AS events, now() - min(occurred_at) AS oldest_age
  FROM notification_events
 WHERE dispatched_at IS NULL;
