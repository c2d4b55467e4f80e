-- Incidents and the updates and notes people make on them. An incident's ID
-- is "inc-" and its seq, which counts from 1 and is never reused; the
-- incident itself is kept whole as JSON beside the columns that queries
-- select on. Times are Unix nanoseconds, NULL when not set. Incidents are
-- kept for good: they are few, and they are the history.
CREATE TABLE incidents (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    data        BLOB    NOT NULL
);

-- Open incidents are looked up on every alert that fires.
CREATE INDEX incidents_open ON incidents (state) WHERE state <> 'resolved';

CREATE TABLE incident_updates (
    id          INTEGER PRIMARY KEY,
    incident_id TEXT    NOT NULL REFERENCES incidents (id),
    time        INTEGER NOT NULL,
    by_name     TEXT    NOT NULL,
    public      INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    impact      TEXT    NOT NULL,
    components  TEXT,   -- a JSON list, NULL when the update left them as they were
    message     TEXT    NOT NULL
);

CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);
