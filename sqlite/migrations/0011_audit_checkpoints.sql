-- Signed checkpoints of the audit log: the seq and hash of its head,
-- signed with an Ed25519 key kept outside the database (see
-- nightowl.AuditCheckpoint). One per seq: the first signed stays. Times are
-- Unix nanoseconds. Rows are never updated or deleted; the triggers refuse
-- it by mistake, and verifying the signatures finds it on purpose.
CREATE TABLE audit_checkpoints (
    seq    INTEGER PRIMARY KEY,
    time   INTEGER NOT NULL,
    hash   BLOB    NOT NULL,
    key_id TEXT    NOT NULL,
    sig    BLOB    NOT NULL
);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'the audit checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'the audit checkpoints are append-only');
END;
