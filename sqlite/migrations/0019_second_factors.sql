-- Second factors of people who sign in with a password: TOTP keys and
-- WebAuthn credentials. secret is what the server checks a code or a
-- signature against: a TOTP key sealed (AES-GCM) with the store's
-- factor key, a WebAuthn credential's public key and counters as JSON.
-- A factor counts once confirmed_at is set; last_step is the TOTP time
-- step of the last code taken, so that a code is good once. Times are
-- Unix nanoseconds, NULL when not set.
CREATE TABLE second_factors (
    id           TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    secret       BLOB NOT NULL,
    created_at   INTEGER,
    confirmed_at INTEGER,
    last_used    INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX second_factors_user ON second_factors (user_name);

-- One-time recovery codes, as their SHA-256: each is good once.
CREATE TABLE recovery_codes (
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    hash       BLOB NOT NULL,
    created_at INTEGER,
    used_at    INTEGER,
    PRIMARY KEY (user_name, hash)
);

-- A token may approve and run guarded actions only when an admin made it
-- so.
ALTER TABLE tokens ADD COLUMN can_approve INTEGER NOT NULL DEFAULT 0;
