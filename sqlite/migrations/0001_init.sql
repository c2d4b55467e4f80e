-- Checks get a small integer id so that the rows repeated per check (results,
-- rollups, events) stay small, and so that forgetting a check is one delete
-- that cascades to everything it owns.
CREATE TABLE checks (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Times are Unix nanoseconds in UTC; NULL stands for the zero time.
CREATE TABLE states (
    check_id INTEGER PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    status   TEXT    NOT NULL,
    since    INTEGER,
    pending  TEXT    NOT NULL DEFAULT '',
    streak   INTEGER NOT NULL DEFAULT 0,
    last_run INTEGER,
    cause    TEXT    NOT NULL DEFAULT '',
    runs     INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0
);

-- A ring of recent results per check: a result goes to slot seq % N and
-- overwrites what was there, so the table never holds more than N rows per
-- check. It is a rowid table rather than WITHOUT ROWID because facts can be
-- large (an HTTP body), and the unique index lets the upsert find the slot.
CREATE TABLE results (
    id          INTEGER PRIMARY KEY,
    check_id    INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    slot        INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    due         INTEGER,
    start       INTEGER,
    ok          INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    facts       BLOB,             -- JSON object
    assertions  BLOB,             -- JSON array
    UNIQUE (check_id, slot)
);

-- Hourly and daily summaries. period is the bucket length in seconds (3600
-- or 86400) and start is in Unix seconds: buckets are aligned, so seconds are
-- exact and keep the key short. hist is a log-scale histogram of durations
-- (see histogram.go) that merges exactly with what later flushes add, through
-- the merge_hist function that the writer's connections define.
CREATE TABLE rollups (
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    period   INTEGER NOT NULL,
    start    INTEGER NOT NULL,
    runs     INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    max_ns   INTEGER NOT NULL,
    hist     BLOB    NOT NULL,
    PRIMARY KEY (check_id, period, start)
) WITHOUT ROWID;

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    check_id    INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    time        INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    from_status TEXT    NOT NULL DEFAULT '',
    to_status   TEXT    NOT NULL DEFAULT '',
    cause       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_check_time ON events (check_id, time);
CREATE INDEX events_time ON events (time);
