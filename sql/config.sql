-- Notification configuration, database side: switch lookup and the reload signal.
-- The tables themselves (notification_endpoints, notification_switches) are Django models,
-- edited from the admin and the `tiltbob endpoints` / `tiltbob switches` commands.
-- Idempotent: safe to run again.

-- A switch without a row is on: a new event type is announced until someone turns it off.
CREATE OR REPLACE FUNCTION tiltbob_switch_on(switch_name text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT enabled FROM notification_switches WHERE name = switch_name), true)
$$;

-- Any change to endpoints or switches tells every listener to reload its cached config.
CREATE OR REPLACE FUNCTION tiltbob_config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tiltbob_config', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS config_changed ON notification_endpoints;
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notification_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tiltbob_config_changed();

DROP TRIGGER IF EXISTS config_changed ON notification_switches;
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notification_switches
    FOR EACH STATEMENT EXECUTE FUNCTION tiltbob_config_changed();
