-- The listener's queries, by name. Each starts with `-- name: <name>` and a one-line comment;
-- listener/queries.py loads them and the code calls them by name.

-- name: lock_dispatch
-- One fan-out at a time across all listeners, so each endpoint's queue follows commit order.
SELECT pg_advisory_xact_lock(7104, 0);

-- name: dispatch_events
-- Claim a batch of undispatched events, fan each out to every enabled endpoint subscribed to
-- its type (the master and event-type switches read now), and mark the batch dispatched.
WITH claimed AS (
    SELECT id, type
      FROM notification_events
     WHERE dispatched_at IS NULL
     ORDER BY id
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
), fanned AS (
    INSERT INTO notification_deliveries (event_id, endpoint_id)
    SELECT c.id, e.id
      FROM claimed c
      JOIN notification_endpoints e ON e.enabled AND c.type = ANY (e.event_types)
     WHERE tiltbob_switch_on('master') AND tiltbob_switch_on(c.type)
        ON CONFLICT (event_id, endpoint_id) DO NOTHING
    RETURNING endpoint_id
), marked AS (
    UPDATE notification_events SET dispatched_at = now()
     WHERE id IN (SELECT id FROM claimed)
    RETURNING id
)
SELECT (SELECT count(*) FROM marked) AS events,
       (SELECT coalesce(array_agg(DISTINCT endpoint_id), '{}') FROM fanned) AS endpoint_ids;

-- name: notify_deliveries
-- Wake every listener's workers: new deliveries were committed.
SELECT pg_notify('tiltbob_deliveries', '');

-- name: load_endpoints
-- Every endpoint, with its encrypted URL, for the listener's cached config.
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

-- name: mark_delivered
-- The endpoint accepted these deliveries.
UPDATE notification_deliveries
   SET status = 'delivered', attempts = attempts + 1, finished_at = now(),
       last_status_code = %(status_code)s, last_error = NULL
 WHERE id = ANY (%(ids)s);

-- name: schedule_retry
-- These deliveries failed in a way worth retrying: try again at next_attempt_at.
UPDATE notification_deliveries
   SET attempts = attempts + 1, next_attempt_at = %(next_attempt_at)s,
       last_status_code = %(status_code)s, last_error = %(error)s
 WHERE id = ANY (%(ids)s);

-- name: mark_failed
-- These deliveries will never succeed (a permanent answer, or the retry schedule ran out).
UPDATE notification_deliveries
   SET status = 'failed', attempts = attempts + 1, finished_at = now(),
       last_status_code = %(status_code)s, last_error = %(error)s
 WHERE id = ANY (%(ids)s);

-- name: insert_attempt
-- One row per delivery per attempt: what the endpoint answered and how long it took.
INSERT INTO notification_attempts (delivery_id, status_code, error, duration_ms)
VALUES (%(delivery_id)s, %(status_code)s, %(error)s, %(duration_ms)s);

-- name: record_success
-- The endpoint is healthy.
INSERT INTO notification_endpoint_health (endpoint_id, last_success_at, consecutive_failures)
VALUES (%(endpoint_id)s, now(), 0)
    ON CONFLICT (endpoint_id) DO UPDATE
   SET last_success_at = now(), consecutive_failures = 0;

-- name: record_failure
-- The endpoint failed once more.
INSERT INTO notification_endpoint_health
       (endpoint_id, last_failure_at, consecutive_failures, last_error)
VALUES (%(endpoint_id)s, now(), 1, %(error)s)
    ON CONFLICT (endpoint_id) DO UPDATE
   SET last_failure_at = now(),
       consecutive_failures = notification_endpoint_health.consecutive_failures + 1,
       last_error = excluded.last_error;

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
