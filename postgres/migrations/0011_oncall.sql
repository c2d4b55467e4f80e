-- Overrides of the config's schedules added through the API, the command
-- line or the dashboard. Of two that overlap, the later created wins:
-- created_at, then id, orders them.
CREATE TABLE schedule_overrides (
    id         text        COLLATE "C" PRIMARY KEY,
    schedule   text        COLLATE "C" NOT NULL,
    user_name  text        NOT NULL,
    from_at    timestamptz NOT NULL,
    to_at      timestamptz NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    created_by text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule, created_at);

-- The calendar feeds of people and schedules: one each at most, found by
-- the hash of the secret in its address. A person's feed names them in
-- user_name too, so that it goes with them when they are removed.
CREATE TABLE calendar_feeds (
    kind       text        COLLATE "C" NOT NULL,
    name       text        COLLATE "C" NOT NULL,
    user_name  text        COLLATE "C" REFERENCES users (name) ON DELETE CASCADE,
    hash       bytea       NOT NULL UNIQUE,
    created_by text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX calendar_feeds_user ON calendar_feeds (user_name);
