-- People's own contact methods and the rules that say which to use when.
-- A method's address may be a secret (a chat webhook URL); its test code is
-- kept only as a SHA-256. A user's methods and rules go with them. Times are
-- Unix nanoseconds, NULL when not set.
CREATE TABLE contact_methods (
    id           TEXT    PRIMARY KEY,
    user_name    TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    label        TEXT    NOT NULL DEFAULT '',
    address      TEXT    NOT NULL,
    created_at   INTEGER,
    verified_at  INTEGER,
    code_hash    BLOB,
    code_expires INTEGER,
    code_tries   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX contact_methods_user ON contact_methods (user_name);

-- A user's rules in order: position counts from 0.
CREATE TABLE notification_rules (
    user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    contact_id TEXT    NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    after_ms   INTEGER NOT NULL,
    PRIMARY KEY (user_name, position)
);
CREATE INDEX notification_rules_contact ON notification_rules (contact_id);

-- A page to a person's contact method is cancelled when the alert is
-- acknowledged or resolved before it is sent.
ALTER TABLE outbox ADD COLUMN until_ack INTEGER NOT NULL DEFAULT 0;
