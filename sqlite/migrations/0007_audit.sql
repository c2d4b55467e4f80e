-- The audit log: who did what, when, append-only and hash-chained (see
-- nightowl.AuditEntry). Each row carries the SHA-256 of the one before, and
-- audit_head, written in the same transaction as every append, keeps the seq
-- and hash of the newest, so that deleting the newest rows is found too.
-- Times are Unix nanoseconds. Rows are never updated or deleted: there is no
-- retention, the log is small (a row per sign-in or change, not per check
-- result). The triggers refuse edits by mistake; they are no defence against
-- someone who can write the file, which is what verifying the chain is for.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY,
    time    INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    detail  TEXT    NOT NULL,
    prev    BLOB    NOT NULL,
    hash    BLOB    NOT NULL
);

CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

-- One row, made by the first append.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
