-- The whole current schema of the SQL-owned parts of tiltbob, for reading (and for a DBA who
-- installs by hand, after Django's tables: `tiltbob migrate` is the usual way).
--
-- sql/migrations/ builds the same thing step by step; a test holds this file equal to them.
-- A change goes into a new migration file *and* here.


-- The catalogue: the names this SQL shares with the Python side (tiltbob/catalogue.py), each
-- defined once here; tests/test_catalogue.py holds the two equal. IMMUTABLE, so a constant key
-- is folded when a query is planned.
CREATE FUNCTION tiltbob_catalogue(key text) RETURNS text
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


-- The museum's clock (0007). ----------------------------------------------------------------------

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


-- The notifier's tables: written by the triggers and the listener, read by the admin. ---------

-- The outbox: one row per event, written in the writer's transaction.
CREATE TABLE notification_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type              text        NOT NULL,
    occurred_at       timestamptz NOT NULL DEFAULT now(),
    -- tiltbob.actor of the writing transaction, or the database role.
    actor             text        NOT NULL,
    -- What the event concerns. No foreign keys: an event outlives what it speaks of.
    machine_id        bigint,
    problem_report_id bigint,
    log_entry_id      bigint,
    -- Everything the message needs (names, labels, old and new values, the link's path), as the
    -- writing transaction left it at COMMIT.
    snapshot          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- Set by the listener's fan-out, in the transaction that writes the event's deliveries.
    fanned_out_at     timestamptz
);

COMMENT ON TABLE notification_events IS
    'tiltbob outbox: written by triggers, fanned out to endpoints by the listener';

-- The fan-out scans only what is still to be fanned out.
CREATE INDEX notification_events_pending ON notification_events (id) WHERE fanned_out_at IS NULL;

-- One event for one endpoint: written by the fan-out, worked off by the endpoint's worker.
CREATE TABLE notification_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         bigint      NOT NULL REFERENCES notification_events ON DELETE CASCADE,
    endpoint_id      bigint      NOT NULL REFERENCES notification_endpoints ON DELETE CASCADE,
    -- pending: to be sent (again) from next_attempt_at; delivered and failed are final.
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    last_status_code integer,
    -- A short reason, never the URL.
    last_error       text,
    -- 0 for the delivery the fan-out wrote; 1, 2, … for each resend of it (admin, CLI).
    resend           integer     NOT NULL DEFAULT 0,
    -- A held-back delivery sent on purpose when its endpoint was enabled again: its age, for
    -- the give-up schedule, counts from here rather than from created_at (0006).
    released_at      timestamptz,
    -- One fan-out delivery per event and endpoint. Leads with event_id, so the event's foreign
    -- key needs no index of its own (one index fewer to write per delivery).
    CONSTRAINT notification_deliveries_once UNIQUE (event_id, endpoint_id, resend)
);

-- Each endpoint's worker reads its queue in order (status 'pending', by id), and a deleted
-- endpoint's rows are found, by this one index: the only one that leads with the endpoint, so
-- that the queue reads are planned on it whatever the statistics (0005).
CREATE INDEX notification_deliveries_queue ON notification_deliveries (endpoint_id, status, id);
-- The prune finds old finished rows.
CREATE INDEX notification_deliveries_done
    ON notification_deliveries (finished_at) WHERE status <> 'pending';

-- Every attempt to send a delivery, for the admin's history.
CREATE TABLE notification_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  bigint           NOT NULL REFERENCES notification_deliveries ON DELETE CASCADE,
    attempted_at timestamptz      NOT NULL DEFAULT now(),
    -- NULL when no HTTP answer came (timeout, connection refused).
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL
);

CREATE INDEX notification_attempts_delivery ON notification_attempts (delivery_id);

-- How each endpoint has been doing lately.
CREATE TABLE notification_endpoint_health (
    endpoint_id          bigint      PRIMARY KEY REFERENCES notification_endpoints ON DELETE CASCADE,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    last_error           text,
    -- When the current run of failures began: the first failed attempt after the last success
    -- (null: the last attempt succeeded). The listener's clock writes it (0006).
    failing_since        timestamptz
);


-- The Discord forum thread of each subject, per forum endpoint (0008).
CREATE TABLE notification_threads (
    endpoint_id bigint      NOT NULL REFERENCES notification_endpoints ON DELETE CASCADE,
    -- What the thread is about: 'report:<id>', 'machine:<id>', 'notifier'.
    subject     text        NOT NULL,
    -- Discord's id of the thread (a snowflake, kept as text as Discord sends it).
    thread_id   text        NOT NULL,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint_id, subject)
);

COMMENT ON TABLE notification_threads IS
    'tiltbob: the Discord forum thread each subject''s messages go to, per forum endpoint';


-- Event capture. --------------------------------------------------------------------------------
--
-- Triggers on the maintenance tables write the automatic log entries and the outbox rows, so a
-- change made by the web app, a script or psql notifies alike.
--
-- Every event's snapshot is built at COMMIT, from the transaction's final state (names, labels,
-- maintainers attached after an INSERT), by deferred constraint triggers; they also wake the
-- listeners with pg_notify. Two paths lead there:
--   * a new problem report or work log: a deferred trigger on the row itself writes the whole
--     outbox row at COMMIT (one write: the hot path);
--   * a change (status, location, close, reopen, new machine): a row trigger, as it happens,
--     writes the automatic log entry and a *pending* outbox row with what only the change knows
--     (old and new values, the note); a deferred trigger on that row completes it at COMMIT.
-- A rolled-back transaction therefore leaves nothing, and a listener never sees half an event.
--
-- Writers may set, for their transaction:
--   tiltbob.actor     who did it, as shown in messages (default: the database role)
--   tiltbob.actor_id  the maintainers.id behind it (recorded as created_by of automatic entries)
--   tiltbob.note      a note for the automatic log entry of the next change (then cleared)


-- Labels shown to people; equal to the Django choices (a test holds them together). ---------

CREATE FUNCTION tiltbob_status_label(status text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status
        WHEN 'good' THEN 'Good'
        WHEN 'unknown' THEN 'Unknown'
        WHEN 'fixing' THEN 'Fixing'
        WHEN 'broken' THEN 'Broken'
        ELSE status
    END
$$;

CREATE FUNCTION tiltbob_problem_type_label(problem_type text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE problem_type
        WHEN 'stuck_ball' THEN 'Stuck ball'
        WHEN 'no_credits' THEN 'No credits'
        WHEN 'wont_start' THEN 'Won''t start'
        WHEN 'other' THEN 'Other'
        ELSE problem_type
    END
$$;


-- Who and why, from the transaction's settings. -----------------------------------------------

-- session_user: inside the capture's SECURITY DEFINER functions current_user is their owner.
CREATE FUNCTION tiltbob_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(btrim(current_setting('tiltbob.actor', true)), ''), session_user::text)
$$;

-- A maintainer id that does not parse or does not exist is ignored, never an error: a bad
-- setting must not make a writer's COMMIT fail.
CREATE FUNCTION tiltbob_actor_id() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    raw text := btrim(coalesce(current_setting('tiltbob.actor_id', true), ''));
BEGIN
    IF raw !~ '^[0-9]{1,18}$' THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT id FROM maintainers WHERE id = raw::bigint);
END
$$;

-- The note for this change, consumed: the next change in the transaction starts without it.
CREATE FUNCTION tiltbob_take_note() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    note text := btrim(coalesce(current_setting('tiltbob.note', true), ''));
BEGIN
    IF note <> '' THEN
        PERFORM set_config('tiltbob.note', '', true);
    END IF;
    RETURN note;
END
$$;


-- Step 1 helpers. -----------------------------------------------------------------------------

CREATE FUNCTION tiltbob_auto_log_entry(
    machine bigint, report bigint, entry_kind text, summary text, note text
) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    INSERT INTO log_entries (machine_id, problem_report_id, kind, text, created_by_id)
    VALUES (machine, report, entry_kind,
            CASE WHEN note = '' THEN summary ELSE summary || E'\n\n' || note END,
            tiltbob_actor_id())
    RETURNING id
$$;

CREATE FUNCTION tiltbob_enqueue(
    event_type text, machine bigint, report bigint, entry bigint, change jsonb
) RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO notification_events (type, actor, machine_id, problem_report_id, log_entry_id, snapshot)
    VALUES (event_type, tiltbob_actor(), machine, report, entry,
            jsonb_build_object('pending', true, 'change', coalesce(change, '{}'::jsonb)))
$$;


-- Step 1: the row triggers. -------------------------------------------------------------------

CREATE FUNCTION tiltbob_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE FUNCTION tiltbob_capture_machine() RETURNS trigger
-- Runs with its owner's rights: writers need no right on the notifier's tables.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    note text;
    entry bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        note := tiltbob_take_note();
        entry := tiltbob_auto_log_entry(
            NEW.id, NULL, 'machine_added', tiltbob_catalogue('summary.machine.added'), note);
        PERFORM tiltbob_enqueue('machine.added', NEW.id, NULL, entry,
                                jsonb_build_object('note', note));
        RETURN NULL;
    END IF;

    IF NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.location_id IS NOT DISTINCT FROM OLD.location_id THEN
        RETURN NULL;  -- saved unchanged: nothing happened, and the note waits for a real change
    END IF;
    note := tiltbob_take_note();

    IF NEW.status IS DISTINCT FROM OLD.status THEN
        entry := tiltbob_auto_log_entry(
            NEW.id, NULL, 'status_changed',
            format(tiltbob_catalogue('summary.machine.status_changed'),
                   tiltbob_status_label(OLD.status), tiltbob_status_label(NEW.status)),
            note);
        PERFORM tiltbob_enqueue('machine.status_changed', NEW.id, NULL, entry,
            jsonb_build_object('field', 'status', 'old', OLD.status, 'new', NEW.status, 'note', note));
    END IF;

    IF NEW.location_id IS DISTINCT FROM OLD.location_id THEN
        entry := tiltbob_auto_log_entry(
            NEW.id, NULL, 'location_changed',
            format(tiltbob_catalogue('summary.machine.location_changed'),
                   (SELECT name FROM locations WHERE id = OLD.location_id),
                   (SELECT name FROM locations WHERE id = NEW.location_id)),
            note);
        PERFORM tiltbob_enqueue('machine.location_changed', NEW.id, NULL, entry,
            jsonb_build_object('field', 'location', 'old', OLD.location_id, 'new', NEW.location_id,
                               'note', note));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION tiltbob_capture_problem_report() RETURNS trigger
-- Runs with its owner's rights: writers need no right on the notifier's tables.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    note text;
    entry bigint;
    closing boolean;
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        note := tiltbob_take_note();
        closing := NEW.status = 'closed';
        entry := tiltbob_auto_log_entry(
            NEW.machine_id, NEW.id,
            CASE WHEN closing THEN 'report_closed' ELSE 'report_reopened' END,
            format('%s problem report #%s (%s)',
                   CASE WHEN closing THEN 'Closed' ELSE 'Reopened' END,
                   NEW.id, tiltbob_problem_type_label(NEW.problem_type)),
            note);
        PERFORM tiltbob_enqueue(
            CASE WHEN closing THEN 'problem_report.closed' ELSE 'problem_report.reopened' END,
            NEW.machine_id, NEW.id, entry,
            jsonb_build_object('field', 'status', 'old', OLD.status, 'new', NEW.status, 'note', note));
    END IF;
    RETURN NULL;
END
$$;


-- Step 2: at COMMIT, the snapshot from the final state, and the wake-up. -----------------------


-- The snapshot of one event, from the current state of what it concerns; NULL when that was
-- deleted in the same transaction (nothing left to announce).
CREATE FUNCTION tiltbob_event_snapshot(
    event_type text, event_actor text, machine_ref bigint, report_ref bigint, entry_ref bigint,
    event_change jsonb
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    change jsonb := coalesce(event_change, '{}'::jsonb);
    machine jsonb;
    location jsonb;
    report jsonb;
    entry jsonb;
    summary text;
BEGIN
    SELECT jsonb_build_object('id', m.id, 'name', m.name, 'slug', m.slug,
                              'status', m.status, 'status_label', tiltbob_status_label(m.status)),
           CASE WHEN l.id IS NOT NULL THEN jsonb_build_object('id', l.id, 'name', l.name) END
      INTO machine, location
      FROM machines m LEFT JOIN locations l ON l.id = m.location_id
     WHERE m.id = machine_ref;
    IF machine IS NULL THEN
        RETURN NULL;  -- deleted in the same transaction: nothing left to announce
    END IF;

    IF report_ref IS NOT NULL THEN
        SELECT jsonb_build_object(
                   'id', r.id,
                   'problem_type', r.problem_type,
                   'problem_type_label', tiltbob_problem_type_label(r.problem_type),
                   'description', r.description,
                   'reporter_name', r.reporter_name,
                   'reporter', coalesce(nullif(btrim(r.reporter_name), ''), rm.display_name, tiltbob_catalogue('visitor')),
                   'status', r.status,
                   'created_at', r.created_at)
          INTO report
          FROM problem_reports r LEFT JOIN maintainers rm ON rm.id = r.reported_by_id
         WHERE r.id = report_ref;
        IF report IS NULL AND event_type LIKE 'problem_report.%' THEN
            RETURN NULL;
        END IF;
    END IF;

    IF entry_ref IS NOT NULL THEN
        SELECT jsonb_build_object(
                   'id', e.id,
                   'kind', e.kind,
                   'text', e.text,
                   'work_date', e.work_date,
                   'created_by', cm.display_name,
                   'maintainers', coalesce(
                       (SELECT jsonb_agg(m.display_name ORDER BY m.display_name, m.id)
                          FROM log_entry_maintainers lem JOIN maintainers m ON m.id = lem.maintainer_id
                         WHERE lem.log_entry_id = e.id),
                       '[]'::jsonb))
          INTO entry
          FROM log_entries e LEFT JOIN maintainers cm ON cm.id = e.created_by_id
         WHERE e.id = entry_ref;
        IF entry IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;

    IF change ->> 'field' = 'status' AND event_type LIKE 'machine.%' THEN
        change := change || jsonb_build_object(
            'old_label', tiltbob_status_label(change ->> 'old'),
            'new_label', tiltbob_status_label(change ->> 'new'));
    ELSIF change ->> 'field' = 'location' THEN
        change := change || jsonb_build_object(
            'old_label', (SELECT name FROM locations WHERE id = (change ->> 'old')::bigint),
            'new_label', (SELECT name FROM locations WHERE id = (change ->> 'new')::bigint));
    END IF;

    summary := format(coalesce(tiltbob_catalogue('summary.' || event_type), event_type),
                      CASE event_type
                          WHEN 'problem_report.created' THEN report ->> 'problem_type_label'
                          ELSE change ->> 'old_label'
                      END,
                      change ->> 'new_label');

    RETURN jsonb_build_object(
        'type', event_type,
        'summary', summary,
        'actor', event_actor,
        'note', coalesce(change ->> 'note', ''),
        'machine', machine,
        'location', location,
        'problem_report', report,
        'log_entry', entry,
        'change', CASE WHEN change ? 'field' THEN change - 'note' END,
        'url_path', CASE
            WHEN event_type LIKE 'problem_report.%' THEN format('/problem-reports/%s/', report_ref)
            ELSE format('/logs/%s/', entry_ref)
        END);
END
$$;

-- A new problem report or work log: the whole outbox row, written at COMMIT.
CREATE FUNCTION tiltbob_announce(
    event_type text, machine_ref bigint, report_ref bigint, entry_ref bigint
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    actor text := tiltbob_actor();
    filled jsonb := tiltbob_event_snapshot(event_type, actor, machine_ref, report_ref, entry_ref, NULL);
BEGIN
    IF filled IS NOT NULL THEN
        INSERT INTO notification_events
               (type, actor, machine_id, problem_report_id, log_entry_id, snapshot)
        VALUES (event_type, actor, machine_ref, report_ref, entry_ref, filled);
        -- A constant payload: PostgreSQL folds identical notifications to one per transaction.
        PERFORM pg_notify(tiltbob_catalogue('channel.events'), '');
    END IF;
END
$$;

CREATE FUNCTION tiltbob_announce_problem_report() RETURNS trigger
-- Runs with its owner's rights: writers need no right on the notifier's tables.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    machine_ref bigint;
BEGIN
    SELECT machine_id INTO machine_ref FROM problem_reports WHERE id = NEW.id;
    IF FOUND THEN
        PERFORM tiltbob_announce('problem_report.created', machine_ref, NEW.id, NULL);
    END IF;
    RETURN NULL;
END
$$;

-- Only work logged by a person is announced as log_entry.created: the automatic entries are
-- announced by the event that wrote them (one action, one notification).
CREATE FUNCTION tiltbob_announce_log_entry() RETURNS trigger
-- Runs with its owner's rights: writers need no right on the notifier's tables.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    current log_entries;
BEGIN
    SELECT * INTO current FROM log_entries WHERE id = NEW.id;
    IF FOUND THEN
        PERFORM tiltbob_announce('log_entry.created', current.machine_id, current.problem_report_id, NEW.id);
    END IF;
    RETURN NULL;
END
$$;

-- A change's pending outbox row, completed at COMMIT.
CREATE FUNCTION tiltbob_complete_event() RETURNS trigger
-- Runs with its owner's rights: writers need no right on the notifier's tables.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    filled jsonb := tiltbob_event_snapshot(
        NEW.type, NEW.actor, NEW.machine_id, NEW.problem_report_id, NEW.log_entry_id,
        NEW.snapshot -> 'change');
BEGIN
    IF filled IS NULL THEN
        DELETE FROM notification_events WHERE id = NEW.id;
        RETURN NULL;
    END IF;
    UPDATE notification_events SET snapshot = filled WHERE id = NEW.id;
    -- A constant payload: PostgreSQL folds identical notifications to one per transaction.
    PERFORM pg_notify(tiltbob_catalogue('channel.events'), '');
    RETURN NULL;
END
$$;


-- The triggers. --------------------------------------------------------------------------------

CREATE TRIGGER touch_updated_at BEFORE UPDATE ON machines
    FOR EACH ROW EXECUTE FUNCTION tiltbob_touch_updated_at();

CREATE TRIGGER touch_updated_at BEFORE UPDATE ON problem_reports
    FOR EACH ROW EXECUTE FUNCTION tiltbob_touch_updated_at();

CREATE TRIGGER capture_event AFTER INSERT OR UPDATE OF status, location_id ON machines
    FOR EACH ROW EXECUTE FUNCTION tiltbob_capture_machine();

CREATE TRIGGER capture_event AFTER UPDATE OF status ON problem_reports
    FOR EACH ROW EXECUTE FUNCTION tiltbob_capture_problem_report();

CREATE CONSTRAINT TRIGGER announce_event AFTER INSERT ON problem_reports
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tiltbob_announce_problem_report();

CREATE CONSTRAINT TRIGGER announce_event AFTER INSERT ON log_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'manual') EXECUTE FUNCTION tiltbob_announce_log_entry();

-- Only pending rows: complete events (and test messages, which carry sample data) are left alone.
CREATE CONSTRAINT TRIGGER complete_event AFTER INSERT ON notification_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.snapshot ? 'pending') EXECUTE FUNCTION tiltbob_complete_event();


-- Notification configuration: any change tells every listener to reload. ---------------------
-- The tables (notification_endpoints, notification_switches) are Django's: people edit them.

-- Any change to endpoints or switches tells every listener to reload its cached config.
CREATE FUNCTION tiltbob_config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(tiltbob_catalogue('channel.config'), '');
    RETURN NULL;
END
$$;

CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notification_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tiltbob_config_changed();

CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notification_switches
    FOR EACH STATEMENT EXECUTE FUNCTION tiltbob_config_changed();


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


-- Endpoints that keep failing. --------------------------------------------------------------------

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


-- The listener's fan-out, as one function so that a wake-up costs one round trip. -------------

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
CREATE FUNCTION tiltbob_fan_out(batch integer, origin text)
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
