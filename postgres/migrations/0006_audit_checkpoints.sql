-- Signed checkpoints of the audit log: the seq and hash of its head,
-- signed with an Ed25519 key kept outside the database (see
-- nightowl.AuditCheckpoint). One per seq: the first signed stays, whichever
-- node signed it. Times are Unix nanoseconds. Rows are never updated or
-- deleted; the triggers refuse it by mistake, and verifying the signatures
-- finds it on purpose.
CREATE TABLE audit_checkpoints (
    seq     bigint PRIMARY KEY,
    time_ns bigint NOT NULL,
    hash    bytea  NOT NULL,
    key_id  text   NOT NULL,
    sig     bytea  NOT NULL
);

CREATE TRIGGER audit_checkpoints_no_edit BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
