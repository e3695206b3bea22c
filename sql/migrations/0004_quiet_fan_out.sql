-- 0004: a fan-out tells the other listeners of new deliveries only when they are news to them.
-- Each listener names the endpoints it drives (`driven`); deliveries for those alone are handed
-- to its own workers, and no NOTIFY is sent: it cost every fan-out a notification queue entry at
-- commit and woke the listener that had just written them. NULL: unknown, always tell.

-- The fan-out, as in 0002 but for when it notifies. ---------------------------------------------

-- Claim a batch of events not yet fanned out (FOR UPDATE SKIP LOCKED), fan each out to every enabled
-- endpoint subscribed to its type (the master and event-type switches read now), and mark the
-- batch fanned out. Fan-outs take turns (a transaction-level advisory lock), so each endpoint's
-- queue follows the events' commit order.
--
-- Returns a row per new delivery, each with the number of events claimed. For an endpoint that
-- had nothing pending before, the row carries the whole delivery and its event (handed_off):
-- those deliveries are its entire queue, and an idle worker sends them without reading it. For
-- any other endpoint one row names it, and its worker reads its queue. No delivery at all: one
-- row with the count alone.
--
-- If deliveries were written for an endpoint the caller does not drive (not in `driven`), every
-- listener is told on tiltbob_deliveries; the payload is the caller's origin, so the caller can
-- tell its own fan-outs from others'.
CREATE FUNCTION tiltbob_fan_out(batch integer, origin text, driven bigint[])
RETURNS TABLE (
    events          integer,
    endpoint_id     bigint,
    handed_off      boolean,
    id              bigint,
    event_id        bigint,
    attempts        integer,
    next_attempt_at timestamptz,
    created_at      timestamptz,
    type            text,
    occurred_at     timestamptz,
    actor           text,
    snapshot        jsonb
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    news boolean := false;
BEGIN
    -- Taken before the statement below starts, so that its snapshot sees every earlier fan-out.
    PERFORM pg_advisory_xact_lock(tiltbob_catalogue('lock.fan_out')::int, 0);
    FOR events, endpoint_id, handed_off, id, event_id, attempts, next_attempt_at, created_at,
        type, occurred_at, actor, snapshot IN
        WITH claimed AS (
            SELECT id, type, occurred_at, actor, snapshot
              FROM notification_events
             WHERE fanned_out_at IS NULL
             ORDER BY id
             LIMIT batch
               FOR UPDATE SKIP LOCKED
        ), fanned AS (
            INSERT INTO notification_deliveries (event_id, endpoint_id)
            SELECT c.id, e.id
              FROM claimed c
              JOIN notification_endpoints e ON e.enabled AND c.type = ANY (e.event_types)
              LEFT JOIN notification_switches s ON s.name = c.type  -- no row: on
             WHERE coalesce(s.enabled, true)
               AND NOT EXISTS (SELECT FROM notification_switches m
                                WHERE m.name = 'master' AND NOT m.enabled)
             ORDER BY c.id, e.id
                ON CONFLICT (event_id, endpoint_id, resend) DO NOTHING
            RETURNING id, event_id, endpoint_id, attempts, next_attempt_at, created_at
        ), marked AS (
            UPDATE notification_events SET fanned_out_at = now()
             WHERE id IN (SELECT id FROM claimed)
            RETURNING id
        ), claimed_count AS (
            SELECT count(*)::integer AS events FROM marked
        ), endpoints AS (
            -- This statement's snapshot does not see its own inserts: what it finds pending
            -- was there before.
            SELECT DISTINCT f.endpoint_id,
                   NOT EXISTS (SELECT FROM notification_deliveries o
                                WHERE o.endpoint_id = f.endpoint_id AND o.status = 'pending')
                       AS handed_off
              FROM fanned f
        )
        SELECT n.events, p.endpoint_id, p.handed_off, f.id, f.event_id, f.attempts,
               f.next_attempt_at, f.created_at, c.type, c.occurred_at, c.actor, c.snapshot
          FROM claimed_count n
          LEFT JOIN endpoints p ON true
          LEFT JOIN fanned f ON p.handed_off AND f.endpoint_id = p.endpoint_id
          LEFT JOIN claimed c ON c.id = f.event_id
         ORDER BY p.endpoint_id, f.id
    LOOP
        news := news OR (endpoint_id IS NOT NULL
                         AND (driven IS NULL OR NOT endpoint_id = ANY (driven)));
        RETURN NEXT;
    END LOOP;
    IF news THEN
        PERFORM pg_notify(tiltbob_catalogue('channel.deliveries'), origin);
    END IF;
END
$$;

-- The two-argument form, for a listener of an earlier release during an upgrade: it drives no
-- endpoint as far as the fan-out knows, so every fan-out notifies, as before.
CREATE OR REPLACE FUNCTION tiltbob_fan_out(batch integer, origin text)
RETURNS TABLE (
    events          integer,
    endpoint_id     bigint,
    handed_off      boolean,
    id              bigint,
    event_id        bigint,
    attempts        integer,
    next_attempt_at timestamptz,
    created_at      timestamptz,
    type            text,
    occurred_at     timestamptz,
    actor           text,
    snapshot        jsonb
)
LANGUAGE sql AS $$
    SELECT * FROM tiltbob_fan_out(batch, origin, NULL::bigint[])
$$;
