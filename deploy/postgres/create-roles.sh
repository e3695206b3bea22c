#!/bin/sh
# The roles of a tiltbob deployment besides the owner (docs/security.md, "Database roles").
# The postgres image runs this once, when it creates the database; compose's `migrate` service
# then gives them their rights with `tiltbob grant` on every start.
set -eu

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v web_password="$TILTBOB_WEB_DB_PASSWORD" \
    -v listener_password="$TILTBOB_LISTENER_DB_PASSWORD" <<'SQL'
CREATE ROLE tiltbob_web LOGIN PASSWORD :'web_password';
CREATE ROLE tiltbob_listener LOGIN PASSWORD :'listener_password';
-- People who write with psql log in as themselves and are granted this role.
CREATE ROLE tiltbob_script NOLOGIN;
SQL
