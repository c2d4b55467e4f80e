-- Everything but the check store: alerts and their outbox, secrets,
-- maintenance, people, incidents, action requests and the audit log. The
-- tables and their meaning follow the sqlite package's migrations 0003 to
-- 0008; what differs is said where it does.
--
-- Times are timestamptz, which keeps microseconds: every time nightowl
-- only shows, sorts or compares with a margin loses its nanoseconds here,
-- which nobody can notice. Two kinds of time are kept as Unix nanoseconds
-- in a bigint instead, because nanoseconds matter to them:
--   * an audit entry's time, which its hash covers to the nanosecond
--     (nightowl.AuditHash): a time rounded on the way in would no longer
--     verify;
--   * a maintenance window's progress, whose ends_at the maintenance runner
--     compares with ends it computes itself (now plus a duration, or when
--     someone ended the window): rounded, a restart would see the same end
--     as a new one and verify it again.
-- A zero Go time is NULL where a column may be unset; where it may not (a
-- notification's next_at), it is stored as is, 0001-01-01, which sorts
-- before any real time, as in sqlite.
--
-- Text that lists are sorted by is COLLATE "C": byte order, as SQLite sorts,
-- whatever the database's locale.
--
-- Records kept whole are JSON in json columns rather than jsonb: json keeps
-- the text as nightowl wrote it and accepts the \u0000 that a command's
-- output may hold, which jsonb refuses.

-- Alerts name their check rather than reference it: an alert's history
-- outlives a check removed from the config.
CREATE TABLE alerts (
    id         text        COLLATE "C" PRIMARY KEY,
    check_name text        NOT NULL,
    state      text        NOT NULL,
    starts_at  timestamptz NOT NULL,
    data       json        NOT NULL
);
CREATE INDEX alerts_open ON alerts (state) WHERE state <> 'resolved';
CREATE INDEX alerts_check ON alerts (check_name, starts_at);
CREATE INDEX alerts_starts ON alerts (starts_at);

-- The outbox. Ids come from the database, so that nodes writing at once
-- never take the same one. claimed_by and claimed_until are the node whose
-- sender works on the row and its lease, NULL when none does; nodes claim
-- with SELECT ... FOR UPDATE SKIP LOCKED, so that each row goes to one.
CREATE TABLE outbox (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id      text        NOT NULL,
    receiver      text        COLLATE "C" NOT NULL,
    state         text        NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    next_at       timestamptz NOT NULL,
    claimed_by    text,
    claimed_until timestamptz,
    sent_at       timestamptz,
    error         text        NOT NULL DEFAULT '',
    message       json        NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state = 'pending';
CREATE INDEX outbox_alert ON outbox (alert_id);
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX outbox_receiver ON outbox (receiver) WHERE state <> 'sent';

-- Secrets the server makes for itself, such as the key that signs
-- acknowledgement links. The first node to insert one wins; the others
-- read it.
CREATE TABLE secrets (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);

-- Maintenance windows started by hand, and hand-made ends of configured
-- windows, each kept whole as JSON.
CREATE TABLE maintenance_windows (
    id   text COLLATE "C" PRIMARY KEY,
    data json NOT NULL
);

-- How far the verification after the last ended occurrence of each window
-- has come. ends_at and due are Unix nanoseconds (see above), due NULL when
-- all is done. "window" is a reserved word here, hence window_id.
CREATE TABLE maintenance_progress (
    window_id text    COLLATE "C" PRIMARY KEY,
    ends_at   bigint  NOT NULL,
    stage     integer NOT NULL,
    due       bigint
);

-- People who can sign in, their API tokens and their browser sessions.
-- Only hashes of secrets are kept. A user's tokens and sessions go with
-- them.
CREATE TABLE users (
    name          text COLLATE "C" PRIMARY KEY,
    role          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz
);

CREATE TABLE tokens (
    id         text        COLLATE "C" PRIMARY KEY,
    name       text        NOT NULL,
    user_name  text        COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role       text        NOT NULL,
    hash       bytea       NOT NULL UNIQUE,
    created_at timestamptz,
    expires_at timestamptz,
    last_used  timestamptz
);
CREATE INDEX tokens_user ON tokens (user_name);

CREATE TABLE sessions (
    hash       bytea       PRIMARY KEY,
    user_name  text        COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       text        NOT NULL,
    created_at timestamptz,
    expires_at timestamptz,
    max_until  timestamptz
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_max_until ON sessions (max_until);

-- Incidents: an incident's ID is "inc-" and its seq. Seqs come from the one
-- row of incident_counter, bumped in the transaction that inserts the
-- incident: the row lock makes nodes that open incidents at once take
-- turns, and a rolled back insert gives its number back, so the numbers
-- count from 1 without gaps, as in sqlite.
CREATE TABLE incident_counter (
    id   integer PRIMARY KEY CHECK (id = 1),
    last bigint  NOT NULL
);
INSERT INTO incident_counter (id, last) VALUES (1, 0);

CREATE TABLE incidents (
    seq         bigint      PRIMARY KEY,
    id          text        NOT NULL UNIQUE,
    state       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    data        json        NOT NULL
);
CREATE INDEX incidents_open ON incidents (state) WHERE state <> 'resolved';
CREATE INDEX incidents_created ON incidents (created_at);

CREATE TABLE incident_updates (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id text        NOT NULL REFERENCES incidents (id),
    time        timestamptz NOT NULL,
    by_name     text        NOT NULL,
    public      boolean     NOT NULL,
    state       text        NOT NULL,
    impact      text        NOT NULL,
    components  json,       -- a list, NULL when the update left them as they were
    message     text        NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

-- Requests to run actions. IDs are made by the actions service.
CREATE TABLE action_requests (
    id           text        COLLATE "C" PRIMARY KEY,
    action       text        NOT NULL,
    state        text        NOT NULL,
    requested_at timestamptz NOT NULL,
    started_at   timestamptz,
    data         json        NOT NULL
);
CREATE INDEX action_requests_open ON action_requests (requested_at) WHERE state IN ('pending', 'approved');
CREATE INDEX action_requests_action ON action_requests (action, requested_at);
CREATE INDEX action_requests_requested ON action_requests (requested_at);
CREATE INDEX action_requests_started ON action_requests (action, started_at) WHERE started_at IS NOT NULL;

-- The audit log, append-only and hash-chained (see nightowl.AuditEntry),
-- with audit_head, written in the same transaction as every append, keeping
-- the seq and hash of the newest. Appends from every node take one advisory
-- lock for their transaction, so that each reads the head the one before
-- wrote and the chain stays one line. time_ns is Unix nanoseconds (see
-- above); prev is empty for the first entry. The triggers refuse edits by
-- mistake; they are no defence against someone who can write the database,
-- which is what verifying the chain is for.
CREATE TABLE audit_log (
    seq     bigint PRIMARY KEY,
    time_ns bigint NOT NULL,
    actor   text   NOT NULL,
    action  text   NOT NULL,
    subject text   NOT NULL,
    detail  text   NOT NULL,
    prev    bytea  NOT NULL,
    hash    bytea  NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_time ON audit_log (time_ns);

-- One row, made by the first append.
CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,
    hash bytea   NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER audit_log_no_edit BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
