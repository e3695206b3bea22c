-- tiltbob's queries, by name: the listener's (called only from listener/store.py), the web
-- app's writes (test messages, resend, retry now), `tiltbob status` and `tiltbob grant`. Each starts with `-- name: <name>` and a one-line
-- comment; tiltbob/sqlfiles.py loads them and the code calls them by name.

-- name: fan_out_events
-- Fan out a batch of events not yet fanned out (tiltbob_fan_out): a row per new delivery.
SELECT events, endpoint_id, handed_off, id, event_id, attempts, next_attempt_at, created_at,
       type, occurred_at, actor, snapshot
  FROM tiltbob_fan_out(%(batch)s, %(origin)s, %(driven)s::bigint[]);

-- name: notify_deliveries
-- Wake every listener's workers: new deliveries were committed.
SELECT pg_notify(tiltbob_catalogue('channel.deliveries'), '');

-- name: load_endpoints
-- Every endpoint, with its encrypted URL and signing secret, for the listener's cached config.
SELECT id, name, kind, url_encrypted, secret_encrypted, enabled, event_types, in_flight,
       disable_after, hidden_fields, forum, quiet_period
  FROM notification_endpoints
 ORDER BY id;

-- name: enqueue_test_message
-- A test message: an event of the given type carrying sample data, delivered to one endpoint
-- only (already fanned out, so the fan-out leaves it alone). Returns the event's id.
WITH event AS (
    INSERT INTO notification_events (type, actor, snapshot, fanned_out_at)
    VALUES (%(type)s, %(actor)s, %(snapshot)s, now())
    RETURNING id
)
INSERT INTO notification_deliveries (event_id, endpoint_id)
SELECT id, %(endpoint_id)s FROM event
RETURNING event_id;

-- name: try_lock_endpoint
-- Become the one process that drives this endpoint (session advisory lock; released when the
-- session ends, so a dead process's endpoints are taken over).
SELECT pg_try_advisory_lock(tiltbob_catalogue('lock.endpoint')::int, %(endpoint_id)s::int) AS locked;

-- name: unlock_endpoint
-- Stop driving this endpoint.
SELECT pg_advisory_unlock(tiltbob_catalogue('lock.endpoint')::int, %(endpoint_id)s::int) AS unlocked;

-- name: thread_of
-- The Discord thread a forum endpoint posts a subject's messages into (no row: none yet).
SELECT thread_id FROM notification_threads
 WHERE endpoint_id = %(endpoint_id)s AND subject = %(subject)s;

-- name: keep_thread
-- The thread a forum endpoint's message just opened for a subject.
INSERT INTO notification_threads (endpoint_id, subject, thread_id)
VALUES (%(endpoint_id)s, %(subject)s, %(thread_id)s)
    ON CONFLICT (endpoint_id, subject) DO UPDATE
   SET thread_id = excluded.thread_id, opened_at = excluded.opened_at;

-- name: forget_thread
-- A thread Discord no longer knows (deleted): the subject's next message opens a new one.
DELETE FROM notification_threads
 WHERE endpoint_id = %(endpoint_id)s AND subject = %(subject)s AND thread_id = %(thread_id)s;

-- name: next_deliveries
-- The oldest pending deliveries of one endpoint after an id (0: from the head), in order, with
-- what their messages need (created_at: where their age starts, released_at if sent on purpose
-- after being held back).
SELECT d.id, d.event_id, d.attempts, d.next_attempt_at,
       coalesce(d.released_at, d.created_at) AS created_at,
       ev.type, ev.occurred_at, ev.actor, ev.snapshot
  FROM notification_deliveries d
  JOIN notification_events ev ON ev.id = d.event_id
 WHERE d.endpoint_id = %(endpoint_id)s AND d.status = 'pending' AND d.id > %(after)s
 ORDER BY d.id
 LIMIT %(limit)s;

-- name: due_deliveries
-- The due pending deliveries of one endpoint after an id (0: from the head), oldest first, but
-- for those already in hand (an endpoint with several messages in flight, where a retry holds
-- back nothing behind it). created_at as in next_deliveries.
SELECT d.id, d.event_id, d.attempts, d.next_attempt_at,
       coalesce(d.released_at, d.created_at) AS created_at,
       ev.type, ev.occurred_at, ev.actor, ev.snapshot
  FROM notification_deliveries d
  JOIN notification_events ev ON ev.id = d.event_id
 WHERE d.endpoint_id = %(endpoint_id)s AND d.status = 'pending' AND d.id > %(after)s
   AND d.next_attempt_at <= now() AND d.id <> ALL (%(in_hand)s::bigint[])
 ORDER BY d.id
 LIMIT %(limit)s;

-- name: next_due_at
-- When the first of one endpoint's pending deliveries falls due (null: none is pending).
SELECT min(next_attempt_at) AS due_at
  FROM notification_deliveries
 WHERE endpoint_id = %(endpoint_id)s AND status = 'pending';

-- name: record_outcomes
-- The outcomes of messages sent to one endpoint, an array element per delivery: each delivery's
-- new state (pending again from next_attempt_at, delivered or failed), one attempt row each,
-- and the endpoint's health (trailing_failures: failures after the batch's last success; `at`:
-- the listener's clock, which starts and ends a run of failures). Returns when the endpoint's
-- current run of failures began (null: it ended in a success).
WITH outcome AS (
    SELECT *
      FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(next_attempt_ats)s::timestamptz[],
                  %(status_codes)s::integer[], %(errors)s::text[], %(durations)s::float8[])
           AS o(id, status, next_attempt_at, status_code, error, duration_ms)
), updated AS (
    UPDATE notification_deliveries d
       SET status = o.status,
           attempts = d.attempts + 1,
           next_attempt_at = coalesce(o.next_attempt_at, d.next_attempt_at),
           finished_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END,
           last_status_code = o.status_code,
           last_error = o.error
      FROM outcome o
     WHERE d.id = o.id AND d.id = ANY (%(ids)s::bigint[])  -- by the key, whatever the statistics
    RETURNING d.id
), attempts AS (
    INSERT INTO notification_attempts (delivery_id, status_code, error, duration_ms)
    SELECT o.id, o.status_code, o.error, o.duration_ms
      FROM outcome o
     WHERE o.id IN (SELECT id FROM updated)
), health AS (
    INSERT INTO notification_endpoint_health AS h
           (endpoint_id, last_success_at, last_failure_at, consecutive_failures, last_error,
            failing_since)
    VALUES (%(endpoint_id)s::bigint,
            CASE WHEN %(any_success)s::boolean THEN %(at)s::timestamptz END,
            CASE WHEN %(any_failure)s::boolean THEN %(at)s::timestamptz END,
            %(trailing_failures)s::integer,
            %(last_error)s::text,
            CASE WHEN %(trailing_failures)s::integer > 0 THEN %(at)s::timestamptz END)
        ON CONFLICT (endpoint_id) DO UPDATE
       SET last_success_at = coalesce(excluded.last_success_at, h.last_success_at),
           last_failure_at = coalesce(excluded.last_failure_at, h.last_failure_at),
           consecutive_failures = CASE WHEN %(any_success)s::boolean
                                       THEN excluded.consecutive_failures
                                       ELSE h.consecutive_failures + excluded.consecutive_failures END,
           last_error = coalesce(excluded.last_error, h.last_error),
           -- A success ends the run (a failure after it starts the next); failures alone go on.
           failing_since = CASE WHEN %(any_success)s::boolean THEN excluded.failing_since
                                ELSE coalesce(h.failing_since, excluded.failing_since) END
    RETURNING h.failing_since
)
SELECT (SELECT failing_since FROM health) AS failing_since, (SELECT count(*) FROM updated) AS recorded;

-- name: prune
-- Forget up to a batch of finished deliveries older than the cutoff, the events they leave with
-- no delivery, and up to a batch of old fanned-out events that never had one; the caller
-- repeats while a batch comes back full (each statement stays short, whatever the backlog).
WITH gone AS (
    DELETE FROM notification_deliveries
     WHERE id IN (SELECT id FROM notification_deliveries
                   WHERE status <> 'pending' AND finished_at < %(cutoff)s
                   ORDER BY finished_at
                   LIMIT %(batch)s)
    RETURNING id, event_id
), emptied AS (
    -- Only events none of whose deliveries outlive this statement (the CTEs share a snapshot).
    DELETE FROM notification_events ev
     WHERE ev.id IN (SELECT event_id FROM gone)
       AND ev.fanned_out_at < %(cutoff)s
       AND NOT EXISTS (SELECT 1 FROM notification_deliveries d
                        WHERE d.event_id = ev.id
                          AND NOT EXISTS (SELECT 1 FROM gone g WHERE g.id = d.id))
    RETURNING id
), never_sent AS (
    -- Looked for only once the old deliveries are gone: then what is old is little.
    DELETE FROM notification_events ev
     WHERE NOT EXISTS (SELECT 1 FROM gone)
       AND ev.id IN (SELECT e.id FROM notification_events e
                      WHERE e.fanned_out_at < %(cutoff)s
                        AND NOT EXISTS (SELECT 1 FROM notification_deliveries d
                                         WHERE d.event_id = e.id)
                      LIMIT %(batch)s)
    RETURNING id
)
SELECT (SELECT count(*) FROM gone) AS deliveries,
       (SELECT count(*) FROM emptied) + (SELECT count(*) FROM never_sent) AS events,
       (SELECT count(*) FROM never_sent) AS never_sent;

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

-- name: waiting_events
-- Events committed but not yet fanned out, for `tiltbob status`.
SELECT count(*) AS events, now() - min(occurred_at) AS oldest_age
  FROM notification_events
 WHERE fanned_out_at IS NULL;

-- name: resend_deliveries
-- Send deliveries again: for each, a new pending delivery of the same event to the same endpoint,
-- at the tail of its queue (resend counts up). Returns the new deliveries' ids.
INSERT INTO notification_deliveries (event_id, endpoint_id, resend)
SELECT DISTINCT ON (d.event_id, d.endpoint_id)
       d.event_id, d.endpoint_id,
       (SELECT max(o.resend) + 1 FROM notification_deliveries o
         WHERE o.event_id = d.event_id AND o.endpoint_id = d.endpoint_id)
  FROM notification_deliveries d
 WHERE d.id = ANY (%(ids)s::bigint[])
 ORDER BY d.event_id, d.endpoint_id
RETURNING id;

-- name: disable_failing_endpoint
-- Turn an endpoint off that has failed continuously for its disable_after as of `at` (null when
-- not due); the event id of its endpoint.disabled announcement.
SELECT tiltbob_disable_failing_endpoint(%(endpoint_id)s, %(at)s) AS event_id;

-- name: settle_held_back
-- An endpoint enabled again sends what it held back (fate 'send': due now, aged from now) or
-- drops it ('drop': failed, with the reason). Returns the deliveries' ids.
SELECT tiltbob_settle_held_back(%(endpoint_id)s, %(fate)s, %(reason)s) AS id;

-- name: retry_now
-- Pending deliveries waiting out a backoff: due now. Returns the ids changed.
UPDATE notification_deliveries
   SET next_attempt_at = now()
 WHERE id = ANY (%(ids)s::bigint[]) AND status = 'pending' AND next_attempt_at > now()
RETURNING id;

-- name: listener_sessions
-- How many listeners are connected to this database (their LISTEN connections), for `tiltbob status --check`.
SELECT count(*) AS listeners
  FROM pg_stat_activity
 WHERE application_name = 'tiltbob-listen' AND datname = current_database();

-- name: stuck_endpoints
-- Enabled endpoints with deliveries due for longer than the grace period: no worker is moving them.
SELECT e.id, e.name, min(d.next_attempt_at) AS due_since
  FROM notification_endpoints e
  JOIN notification_deliveries d ON d.endpoint_id = e.id AND d.status = 'pending'
 WHERE e.enabled AND d.next_attempt_at < now() - make_interval(secs => %(grace)s)
 GROUP BY e.id, e.name
 ORDER BY e.id;

-- name: record_time_zone
-- The museum's time zone, as TILTBOB_TIME_ZONE gives it to `tiltbob migrate`.
UPDATE tiltbob_museum SET time_zone = %(time_zone)s WHERE time_zone IS DISTINCT FROM %(time_zone)s;

-- name: role_exists
-- Whether a database role of this name exists, for `tiltbob grant`.
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(role)s) AS present;
