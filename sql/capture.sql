-- Event capture: triggers on the maintenance tables write the automatic log entries and the
-- outbox rows (outbox.sql), so a change made by the web app, a script or psql notifies alike.
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
--
-- Idempotent: safe to run again.


-- Labels shown to people; equal to the Django choices (a test holds them together). ---------

CREATE OR REPLACE FUNCTION tiltbob_status_label(status text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status
        WHEN 'good' THEN 'Good'
        WHEN 'unknown' THEN 'Unknown'
        WHEN 'fixing' THEN 'Fixing'
        WHEN 'broken' THEN 'Broken'
        ELSE status
    END
$$;

CREATE OR REPLACE FUNCTION tiltbob_problem_type_label(problem_type text) RETURNS text
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

CREATE OR REPLACE FUNCTION tiltbob_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(btrim(current_setting('tiltbob.actor', true)), ''), current_user::text)
$$;

-- A maintainer id that does not parse or does not exist is ignored, never an error: a bad
-- setting must not make a writer's COMMIT fail.
CREATE OR REPLACE FUNCTION tiltbob_actor_id() RETURNS bigint
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
CREATE OR REPLACE FUNCTION tiltbob_take_note() RETURNS text
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

CREATE OR REPLACE FUNCTION tiltbob_auto_log_entry(
    machine bigint, report bigint, entry_kind text, summary text, note text
) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    INSERT INTO log_entries (machine_id, problem_report_id, kind, text, created_by_id)
    VALUES (machine, report, entry_kind,
            CASE WHEN note = '' THEN summary ELSE summary || E'\n\n' || note END,
            tiltbob_actor_id())
    RETURNING id
$$;

CREATE OR REPLACE FUNCTION tiltbob_enqueue(
    event_type text, machine bigint, report bigint, entry bigint, change jsonb
) RETURNS void
LANGUAGE sql VOLATILE AS $$
    INSERT INTO notification_events (type, actor, machine_id, problem_report_id, log_entry_id, snapshot)
    VALUES (event_type, tiltbob_actor(), machine, report, entry,
            jsonb_build_object('pending', true, 'change', coalesce(change, '{}'::jsonb)))
$$;


-- Step 1: the row triggers. -------------------------------------------------------------------

CREATE OR REPLACE FUNCTION tiltbob_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION tiltbob_capture_machine() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    note text;
    entry bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        note := tiltbob_take_note();
        entry := tiltbob_auto_log_entry(NEW.id, NULL, 'machine_added', 'New machine added', note);
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
            format('Status: %s → %s', tiltbob_status_label(OLD.status), tiltbob_status_label(NEW.status)),
            note);
        PERFORM tiltbob_enqueue('machine.status_changed', NEW.id, NULL, entry,
            jsonb_build_object('field', 'status', 'old', OLD.status, 'new', NEW.status, 'note', note));
    END IF;

    IF NEW.location_id IS DISTINCT FROM OLD.location_id THEN
        entry := tiltbob_auto_log_entry(
            NEW.id, NULL, 'location_changed',
            format('Location: %s → %s',
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

CREATE OR REPLACE FUNCTION tiltbob_capture_problem_report() RETURNS trigger
LANGUAGE plpgsql AS $$
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

DROP FUNCTION IF EXISTS tiltbob_event_snapshot(notification_events);
DROP FUNCTION IF EXISTS tiltbob_capture_log_entry() CASCADE;

-- The snapshot of one event, from the current state of what it concerns; NULL when that was
-- deleted in the same transaction (nothing left to announce).
CREATE OR REPLACE FUNCTION tiltbob_event_snapshot(
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
                   'reporter', coalesce(nullif(btrim(r.reporter_name), ''), rm.display_name, 'Visitor'),
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

    summary := CASE event_type
        WHEN 'problem_report.created' THEN 'New problem report: ' || (report ->> 'problem_type_label')
        WHEN 'problem_report.closed' THEN 'Problem report closed'
        WHEN 'problem_report.reopened' THEN 'Problem report reopened'
        WHEN 'log_entry.created' THEN 'Work logged'
        WHEN 'machine.added' THEN 'New machine added'
        WHEN 'machine.status_changed' THEN
            format('Status: %s → %s', change ->> 'old_label', change ->> 'new_label')
        WHEN 'machine.location_changed' THEN
            format('Location: %s → %s', change ->> 'old_label', change ->> 'new_label')
        ELSE event_type
    END;

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
CREATE OR REPLACE FUNCTION tiltbob_announce(
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
        PERFORM pg_notify('tiltbob', '');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION tiltbob_announce_problem_report() RETURNS trigger
LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION tiltbob_announce_log_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION tiltbob_complete_event() RETURNS trigger
LANGUAGE plpgsql AS $$
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
    PERFORM pg_notify('tiltbob', '');
    RETURN NULL;
END
$$;


-- The triggers. --------------------------------------------------------------------------------

DROP TRIGGER IF EXISTS touch_updated_at ON machines;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON machines
    FOR EACH ROW EXECUTE FUNCTION tiltbob_touch_updated_at();

DROP TRIGGER IF EXISTS touch_updated_at ON problem_reports;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON problem_reports
    FOR EACH ROW EXECUTE FUNCTION tiltbob_touch_updated_at();

DROP TRIGGER IF EXISTS capture_event ON machines;
CREATE TRIGGER capture_event AFTER INSERT OR UPDATE OF status, location_id ON machines
    FOR EACH ROW EXECUTE FUNCTION tiltbob_capture_machine();

DROP TRIGGER IF EXISTS capture_event ON problem_reports;
CREATE TRIGGER capture_event AFTER UPDATE OF status ON problem_reports
    FOR EACH ROW EXECUTE FUNCTION tiltbob_capture_problem_report();

DROP TRIGGER IF EXISTS announce_event ON problem_reports;
CREATE CONSTRAINT TRIGGER announce_event AFTER INSERT ON problem_reports
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tiltbob_announce_problem_report();

DROP TRIGGER IF EXISTS capture_event ON log_entries;
DROP TRIGGER IF EXISTS announce_event ON log_entries;
CREATE CONSTRAINT TRIGGER announce_event AFTER INSERT ON log_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'manual') EXECUTE FUNCTION tiltbob_announce_log_entry();

-- Only pending rows: complete events (and test messages, which carry sample data) are left alone.
DROP TRIGGER IF EXISTS complete_event ON notification_events;
CREATE CONSTRAINT TRIGGER complete_event AFTER INSERT ON notification_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.snapshot ? 'pending') EXECUTE FUNCTION tiltbob_complete_event();
