-- Deleting an endpoint, an event or a delivery takes along what hangs off it, from plain SQL
-- too (Django cascades only in the ORM): the listener's prune deletes old deliveries, which
-- have attempts, and a DBA may delete an endpoint in psql.
-- The foreign keys are Django's (named by Django); this redefines each with ON DELETE CASCADE.
-- Idempotent: safe to run again.

DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conname, c.conrelid::regclass AS child, a.attname AS col,
               c.confrelid::regclass AS parent, pa.attname AS parent_col
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
          JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
         WHERE c.contype = 'f'
           AND c.confdeltype <> 'c'
           AND (c.conrelid::regclass::text, a.attname) IN (
                   ('notification_deliveries', 'event_id'),
                   ('notification_deliveries', 'endpoint_id'),
                   ('notification_attempts', 'delivery_id'),
                   ('notification_endpoint_health', 'endpoint_id'))
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.child, fk.conname);
        EXECUTE format(
            'ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (%I)'
            ' ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
            fk.child, fk.conname, fk.col, fk.parent, fk.parent_col);
    END LOOP;
END
$$;
