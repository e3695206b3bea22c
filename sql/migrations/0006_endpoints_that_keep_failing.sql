-- 0006: an endpoint that keeps failing is turned off by the listener, says why, and announces it
-- as an endpoint.disabled event; what it held back waits, to be sent or dropped when it is
-- enabled again (docs/listener.md, "Endpoints that keep failing").
--
-- The endpoint's own new columns are Django's (people edit them): disable_after (null: never),
-- disabled_at and disabled_reason, added by Django's migration 0009 before this file runs.


-- The catalogue, as in 0001, with the new event's summary. -------------------------------------
CREATE OR REPLACE FUNCTION tiltbob_catalogue(key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE key
        -- NOTIFY channels; a payload only says "look again" (or, on deliveries, who fanned out).
        WHEN 'channel.events' THEN 'tiltbob'
        WHEN 'channel.config' THEN 'tiltbob_config'
        WHEN 'channel.deliveries' THEN 'tiltbob_deliveries'
        -- Advisory lock classes: driving one endpoint (session lock), taking turns to fan out.
        WHEN 'lock.endpoint' THEN '7103'
        WHEN 'lock.fan_out' THEN '7104'
        -- Who reported, when a visitor gave no name.
        WHEN 'visitor' THEN 'Visitor'
        -- Who acts when the notifier itself does something (turns an endpoint off).
        WHEN 'notifier' THEN 'tiltbob'
        -- An event's one-line summary (format(): %s are the old and new labels, or the problem type).
        WHEN 'summary.problem_report.created' THEN 'New problem report: %s'
        WHEN 'summary.problem_report.closed' THEN 'Problem report closed'
        WHEN 'summary.problem_report.reopened' THEN 'Problem report reopened'
        WHEN 'summary.log_entry.created' THEN 'Work logged'
        WHEN 'summary.machine.added' THEN 'New machine added'
        WHEN 'summary.machine.status_changed' THEN 'Status: %s → %s'
        WHEN 'summary.machine.location_changed' THEN 'Location: %s → %s'
        WHEN 'summary.endpoint.disabled' THEN 'Turned off after failing continuously'
    END
$$;


-- When the endpoint's current run of failures began: its first failed attempt after its last
-- success (null: the last attempt succeeded). The listener's clock writes it.
ALTER TABLE notification_endpoint_health ADD COLUMN failing_since timestamptz;

-- A held-back delivery sent on purpose when its endpoint was enabled again: its age, for the
-- give-up schedule, counts from here rather than from created_at.
ALTER TABLE notification_deliveries ADD COLUMN released_at timestamptz;


-- Turn the endpoint off if it has failed continuously for its disable_after, as of `at` (the
-- listener's clock): enabled off, why and since when on the endpoint, its pending deliveries
-- kept, and an endpoint.disabled event in the outbox, fanned out like any other. Returns the
-- event's id; null when the endpoint is not due (it succeeded since, it is off already, or it
-- never turns off by itself).
CREATE FUNCTION tiltbob_disable_failing_endpoint(endpoint bigint, at timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    e record;
    held bigint;
    event bigint;
BEGIN
    UPDATE notification_endpoints n
       SET enabled = false,
           disabled_at = at,
           disabled_reason = format('failing since %s: %s',
                                    to_char(h.failing_since AT TIME ZONE 'UTC',
                                            'YYYY-MM-DD HH24:MI "UTC"'),
                                    coalesce(h.last_error, 'no reason given'))
      FROM notification_endpoint_health h
     WHERE n.id = endpoint AND h.endpoint_id = n.id AND n.enabled
       AND n.disable_after IS NOT NULL AND h.failing_since <= at - n.disable_after
    RETURNING n.id, n.name, n.kind, n.disable_after, h.failing_since, h.consecutive_failures,
              h.last_error
      INTO e;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO held
      FROM notification_deliveries
     WHERE endpoint_id = endpoint AND status = 'pending';
    INSERT INTO notification_events (type, occurred_at, actor, snapshot)
    VALUES ('endpoint.disabled', at, tiltbob_catalogue('notifier'),
            jsonb_build_object(
                'type', 'endpoint.disabled',
                'actor', tiltbob_catalogue('notifier'),
                'summary', tiltbob_catalogue('summary.endpoint.disabled'),
                'note', '',
                'endpoint', jsonb_build_object('id', e.id, 'name', e.name, 'kind', e.kind),
                'failing_since', e.failing_since,
                'disable_after_s', extract(epoch FROM e.disable_after)::bigint,
                'failures', e.consecutive_failures,
                'last_error', e.last_error,
                'held', held,
                'url_path', format('/admin/notifications/endpoint/%s/change/', e.id)))
    RETURNING id INTO event;
    PERFORM pg_notify(tiltbob_catalogue('channel.events'), '');
    RETURN event;
END
$$;

-- Only the listener's role is given the right to call it (sql/grants.sql).
REVOKE EXECUTE ON FUNCTION tiltbob_disable_failing_endpoint(bigint, timestamptz) FROM PUBLIC;

-- What an endpoint enabled again does with the deliveries it held back (pending): `send` makes
-- them due now, their age counted from now (released_at), in queue order; `drop` fails them with
-- `reason`. Returns their ids. A function of the owner's, so that the web app (its role gets
-- EXECUTE) may do this and no more to the delivery log.
CREATE FUNCTION tiltbob_settle_held_back(endpoint bigint, fate text, reason text)
RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF fate = 'send' THEN
        RETURN QUERY
            UPDATE notification_deliveries
               SET released_at = now(), next_attempt_at = now()
             WHERE endpoint_id = endpoint AND status = 'pending'
            RETURNING id;
    ELSIF fate = 'drop' THEN
        RETURN QUERY
            UPDATE notification_deliveries
               SET status = 'failed', finished_at = now(), last_error = reason
             WHERE endpoint_id = endpoint AND status = 'pending'
            RETURNING id;
    ELSE
        RAISE EXCEPTION 'held-back deliveries are sent or dropped, not %', fate
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION tiltbob_settle_held_back(bigint, text, text) FROM PUBLIC;


-- An endpoint enabled again, by anyone (the admin, the CLI, psql), starts afresh: no reason
-- shown, and its run of failures forgotten, so one more failure does not turn it off at once.
CREATE FUNCTION tiltbob_endpoint_enabled() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.disabled_at := NULL;
    NEW.disabled_reason := '';
    UPDATE notification_endpoint_health SET failing_since = NULL WHERE endpoint_id = NEW.id;
    RETURN NEW;
END
$$;

CREATE TRIGGER endpoint_enabled BEFORE UPDATE OF enabled ON notification_endpoints
    FOR EACH ROW WHEN (NEW.enabled AND NOT OLD.enabled)
    EXECUTE FUNCTION tiltbob_endpoint_enabled();
