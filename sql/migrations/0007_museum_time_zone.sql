-- 0007: the museum's clock. TILTBOB_TIME_ZONE, recorded here by `tiltbob migrate`, makes the
-- database's own dates the museum's: a work date the database fills in (a log entry written
-- without one, every automatic log entry) is the day it is at the museum, and an endpoint's
-- reason for being turned off gives the museum's time.

-- One row: the museum's time zone (an IANA name), as `tiltbob migrate` last found it.
CREATE TABLE tiltbob_museum (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    time_zone text    NOT NULL DEFAULT 'UTC'
);
INSERT INTO tiltbob_museum DEFAULT VALUES;

-- Today at the museum: log_entries.work_date's default. With the owner's rights, so that a
-- writer needs no right on tiltbob_museum.
CREATE FUNCTION tiltbob_today() RETURNS date
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT (now() AT TIME ZONE (SELECT time_zone FROM tiltbob_museum))::date
$$;

-- log_entries is Django's, but its work date's default is the museum's date, for every writer.
ALTER TABLE log_entries ALTER COLUMN work_date SET DEFAULT tiltbob_today();

-- A moment as the museum's clock shows it, for text people read: '2026-11-28 16:00 Europe/Paris'.
CREATE FUNCTION tiltbob_museum_time(moment timestamptz) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT to_char(moment AT TIME ZONE m.time_zone, 'YYYY-MM-DD HH24:MI ') || m.time_zone
      FROM tiltbob_museum m
$$;


-- As in 0006, with the reason in the museum's time. ------------------------------------------
CREATE OR REPLACE FUNCTION tiltbob_disable_failing_endpoint(endpoint bigint, at timestamptz)
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
                                    tiltbob_museum_time(h.failing_since),
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
