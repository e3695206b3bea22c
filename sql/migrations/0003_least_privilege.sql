-- 0003: least privilege. The capture's trigger functions run with their owner's rights (the role
-- that migrates), with a fixed search_path, so a role that may only write the maintenance
-- tables still produces events, and needs no right on the notifier's tables (docs/security.md).

ALTER FUNCTION tiltbob_capture_machine() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION tiltbob_capture_problem_report() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION tiltbob_announce_problem_report() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION tiltbob_announce_log_entry() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION tiltbob_complete_event() SECURITY DEFINER SET search_path = public, pg_temp;

-- Inside those functions current_user is their owner: the writer is the session's role.
CREATE OR REPLACE FUNCTION tiltbob_actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(btrim(current_setting('tiltbob.actor', true)), ''), session_user::text)
$$;
