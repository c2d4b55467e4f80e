-- The check store: what the sqlite package keeps in its migrations 0001 and
-- 0002, shaped for several nodes writing at once.
--
-- Times are timestamptz (microseconds; NULL stands for the zero time) and
-- durations bigint nanoseconds, named _ns. Rows appended per check (results,
-- pings, events) take their id from an identity column, never from a
-- node's memory, so that two nodes writing the same check during a handover
-- cannot collide; the newest rows of a check are those with the highest ids.

-- Checks get a small integer id so that the rows repeated per check stay
-- small, and so that forgetting a check is one delete that cascades to
-- everything it owns.
CREATE TABLE checks (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text   NOT NULL UNIQUE
);

CREATE TABLE states (
    check_id bigint      PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    status   text        NOT NULL,
    since    timestamptz,
    pending  text        NOT NULL DEFAULT '',
    streak   integer     NOT NULL DEFAULT 0,
    last_run timestamptz,
    cause    text        NOT NULL DEFAULT '',
    runs     bigint      NOT NULL DEFAULT 0,
    failures bigint      NOT NULL DEFAULT 0
);

-- The recent results of each check: every batch appends, then deletes what
-- lies beyond the newest N (ResultsPerCheck) of each check it touched, so a
-- check holds N rows, a few more only while two nodes write it at once.
-- facts and assertions are JSON kept as bytes, as the sqlite store keeps
-- them: jsonb would refuse a fact holding "\u0000" and rewrite numbers.
CREATE TABLE results (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id    bigint      NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    due         timestamptz,
    start       timestamptz,
    ok          boolean     NOT NULL,
    duration_ns bigint      NOT NULL,
    status      text        NOT NULL,
    error       text        NOT NULL DEFAULT '',
    facts       bytea,      -- JSON object
    assertions  bytea       -- JSON array
);
CREATE INDEX results_check_id ON results (check_id, id);

-- Hourly and daily summaries. period is the bucket length in seconds (3600
-- or 86400), start the bucket's beginning. hist is the log-scale histogram
-- of durations of internal/checkstore, in the very encoding the sqlite
-- store writes; nodes merge into it under a row lock (SELECT ... FOR
-- UPDATE), since SQL cannot merge it.
CREATE TABLE rollups (
    check_id bigint      NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    period   integer     NOT NULL,
    start    timestamptz NOT NULL,
    runs     bigint      NOT NULL,
    failures bigint      NOT NULL,
    max_ns   bigint      NOT NULL,
    hist     bytea       NOT NULL,
    PRIMARY KEY (check_id, period, start)
);
CREATE INDEX rollups_start ON rollups (period, start);

CREATE TABLE events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id    bigint      NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    time        timestamptz NOT NULL,
    kind        text        NOT NULL,
    from_status text        NOT NULL DEFAULT '',
    to_status   text        NOT NULL DEFAULT '',
    cause       text        NOT NULL DEFAULT ''
);
CREATE INDEX events_check_time ON events (check_id, time);
CREATE INDEX events_time ON events (time);

-- The recent pings of each heartbeat check, kept to the newest N
-- (PingsPerCheck) as results are. exit_code and duration_ns are NULL when
-- the ping did not carry them, which is not the same as 0. body is bytea:
-- it is what the job sent, at most 100,000 bytes of anything, NULs too.
CREATE TABLE pings (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_id    bigint      NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    time        timestamptz NOT NULL,
    kind        text        NOT NULL,
    exit_code   integer,
    rid         text        NOT NULL DEFAULT '',
    duration_ns bigint,
    method      text        NOT NULL DEFAULT '',
    body        bytea,
    truncated   boolean     NOT NULL DEFAULT false,
    user_agent  text        NOT NULL DEFAULT '',
    remote      text        NOT NULL DEFAULT ''
);
CREATE INDEX pings_check_id ON pings (check_id, id);

-- One row per heartbeat check. The token is the secret of its ping URL:
-- UNIQUE, because a ping must reach exactly one check (NULL, for a check not
-- given one yet, may repeat). started holds the runs that have started and
-- not ended, as the sqlite store does: a JSON object of rid to Unix
-- nanoseconds, kept as text because a rid may hold what jsonb refuses.
CREATE TABLE heartbeats (
    check_id         bigint      PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    token            text        UNIQUE,
    last_ping        timestamptz,
    last_success     timestamptz,
    started          text,
    last_duration_ns bigint,
    exit_code        integer,
    failed           boolean     NOT NULL DEFAULT false,
    since            timestamptz
);
