-- 0008: Discord forum channels. A forum endpoint (notification_endpoints.forum, Django's) posts
-- each subject's messages into a thread of its own: a problem report's into the report's, a
-- machine's events and its work logs tied to no report into the machine's. The thread is opened
-- by the first message about the subject and its id, from Discord's answer, is kept here.

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
