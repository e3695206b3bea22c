-- The listener's fan-out, as one function so that a wake-up costs one round trip.
-- Idempotent: safe to run again.

-- Claim a batch of undispatched events (FOR UPDATE SKIP LOCKED), fan each out to every enabled
-- endpoint subscribed to its type (the master and event-type switches read now), mark the batch
-- dispatched, and wake every listener's workers if deliveries were written. Fan-outs take turns
-- (a transaction-level advisory lock), so each endpoint's queue follows the events' commit order.
CREATE OR REPLACE FUNCTION tiltbob_dispatch(batch integer, OUT events integer, OUT endpoint_ids bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7104, 0);
    WITH claimed AS (
        SELECT id, type
          FROM notification_events
         WHERE dispatched_at IS NULL
         ORDER BY id
         LIMIT batch
           FOR UPDATE SKIP LOCKED
    ), fanned AS (
        INSERT INTO notification_deliveries (event_id, endpoint_id)
        SELECT c.id, e.id
          FROM claimed c
          JOIN notification_endpoints e ON e.enabled AND c.type = ANY (e.event_types)
         WHERE tiltbob_switch_on('master') AND tiltbob_switch_on(c.type)
         ORDER BY c.id, e.id
            ON CONFLICT (event_id, endpoint_id) DO NOTHING
        RETURNING endpoint_id
    ), marked AS (
        UPDATE notification_events SET dispatched_at = now()
         WHERE id IN (SELECT id FROM claimed)
        RETURNING id
    )
    SELECT (SELECT count(*) FROM marked),
           (SELECT coalesce(array_agg(DISTINCT endpoint_id), '{}') FROM fanned)
      INTO events, endpoint_ids;
    IF cardinality(endpoint_ids) > 0 THEN
        PERFORM pg_notify('tiltbob_deliveries', '');
    END IF;
END
$$;
