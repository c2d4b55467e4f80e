-- Alerts and the outbox of notifications about them. A notification is
-- inserted in the same transaction as the alert change that causes it, so a
-- crash either loses both or neither.

-- The alert is kept whole as JSON in data; the columns beside it are what
-- queries select by. Alerts name their check rather than reference it: an
-- alert's history outlives a check removed from the config.
CREATE TABLE alerts (
    id        TEXT    PRIMARY KEY,
    check_name TEXT   NOT NULL,
    state     TEXT    NOT NULL,
    starts_at INTEGER NOT NULL,
    data      BLOB    NOT NULL
);
CREATE INDEX alerts_open ON alerts (state) WHERE state <> 'resolved';
CREATE INDEX alerts_check ON alerts (check_name, starts_at);
CREATE INDEX alerts_starts ON alerts (starts_at);

-- claimed_by and claimed_until are the node whose sender works on the row and
-- its lease; NULL when none does. Times are Unix nanoseconds.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    alert_id      TEXT    NOT NULL,
    receiver      TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    next_at       INTEGER NOT NULL,
    claimed_by    TEXT,
    claimed_until INTEGER,
    sent_at       INTEGER,
    error         TEXT    NOT NULL DEFAULT '',
    message       BLOB    NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE state = 'pending';
CREATE INDEX outbox_alert ON outbox (alert_id);
CREATE INDEX outbox_created ON outbox (created_at);

-- Secrets the server makes for itself, such as the key that signs
-- acknowledgement links.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
