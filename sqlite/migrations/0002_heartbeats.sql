-- Heartbeat checks: the pings jobs send them, and the state that carries
-- their due times and open runs across a restart; and, for every ring of
-- rows per check, where it goes on after a clean restart.

-- A ring of recent pings per check, like results: ping number seq goes to
-- slot seq % N (PingsPerCheck) and overwrites what was there, so the table
-- never holds more than N rows per check. A rowid table, because a body can
-- be up to 100 KB. Times are Unix nanoseconds; exit_code and duration_ns are
-- NULL when the ping did not carry them, which is not the same as 0.
CREATE TABLE pings (
    id          INTEGER PRIMARY KEY,
    check_id    INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    slot        INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    exit_code   INTEGER,
    rid         TEXT    NOT NULL DEFAULT '',
    duration_ns INTEGER,
    method      TEXT    NOT NULL DEFAULT '',
    body        BLOB,             -- as received, at most 100,000 bytes
    truncated   INTEGER NOT NULL DEFAULT 0,
    user_agent  TEXT    NOT NULL DEFAULT '',
    remote      TEXT    NOT NULL DEFAULT '',
    UNIQUE (check_id, slot)
);

-- One row per heartbeat check. The token is the secret of its ping URL:
-- UNIQUE, because a ping must reach exactly one check (NULL, for a check not
-- given one yet, may repeat). started is a JSON object of the runs that have
-- started and not ended: rid to Unix nanoseconds.
CREATE TABLE heartbeats (
    check_id         INTEGER PRIMARY KEY REFERENCES checks (id) ON DELETE CASCADE,
    token            TEXT UNIQUE,
    last_ping        INTEGER,
    last_success     INTEGER,
    started          TEXT,
    last_duration_ns INTEGER,
    exit_code        INTEGER,
    failed           INTEGER NOT NULL DEFAULT 0,
    since            INTEGER
);

-- Where each check's rings of results and pings go on: the seq of its next
-- row. Without it, the first write to a check after a restart reads every row
-- of its ring to find the newest, each on a page of its own; with a million
-- checks that is minutes of reading. The store saves the heads when it
-- closes and deletes them when it opens, so that after a crash, when they
-- may be stale, the rings are read instead. size is the ring's length when
-- the heads were saved: a ring resized since is read (and trimmed) too.
CREATE TABLE ring_heads (
    check_id INTEGER NOT NULL REFERENCES checks (id) ON DELETE CASCADE,
    ring     TEXT    NOT NULL, -- 'results' or 'pings'
    size     INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (check_id, ring)
) WITHOUT ROWID;
