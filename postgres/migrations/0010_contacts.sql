-- People's own contact methods and the rules that say which to use when.
-- A method's address may be a secret (a chat webhook URL); its test code is
-- kept only as a SHA-256. A user's methods and rules go with them.
CREATE TABLE contact_methods (
    id           text        COLLATE "C" PRIMARY KEY,
    user_name    text        COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind         text        NOT NULL,
    label        text        NOT NULL DEFAULT '',
    address      text        NOT NULL,
    created_at   timestamptz,
    verified_at  timestamptz,
    code_hash    bytea,
    code_expires timestamptz,
    code_tries   integer     NOT NULL DEFAULT 0
);
CREATE INDEX contact_methods_user ON contact_methods (user_name);

-- A user's rules in order: position counts from 0.
CREATE TABLE notification_rules (
    user_name  text    COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    position   integer NOT NULL,
    contact_id text    COLLATE "C" NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    after_ms   bigint  NOT NULL,
    PRIMARY KEY (user_name, position)
);
CREATE INDEX notification_rules_contact ON notification_rules (contact_id);

-- A page to a person's contact method is cancelled when the alert is
-- acknowledged or resolved before it is sent.
ALTER TABLE outbox ADD COLUMN until_ack boolean NOT NULL DEFAULT false;
