-- Maintenance windows started by hand, and hand-made ends of configured
-- windows (the config holds the rest of those), each kept whole as JSON.
CREATE TABLE maintenance_windows (
    id   TEXT PRIMARY KEY,
    data BLOB NOT NULL
);

-- How far the verification after the last ended occurrence of each window
-- has come; times are Unix nanoseconds, due NULL when all is done.
CREATE TABLE maintenance_progress (
    window  TEXT    PRIMARY KEY,
    ends_at INTEGER NOT NULL,
    stage   INTEGER NOT NULL,
    due     INTEGER
);
