-- Overrides of the config's schedules added through the API, the command
-- line or the dashboard; times are Unix nanoseconds. Of two that overlap,
-- the later created wins: created_at, then id, orders them.
CREATE TABLE schedule_overrides (
    id         TEXT    PRIMARY KEY,
    schedule   TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    from_at    INTEGER NOT NULL,
    to_at      INTEGER NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule, created_at);

-- The calendar feeds of people and schedules: one each at most, found by
-- the hash of the secret in its address. A person's feed names them in
-- user_name too, so that it goes with them when they are removed.
CREATE TABLE calendar_feeds (
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    user_name  TEXT    REFERENCES users (name) ON DELETE CASCADE,
    hash       BLOB    NOT NULL UNIQUE,
    created_by TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX calendar_feeds_user ON calendar_feeds (user_name);
