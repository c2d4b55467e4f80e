-- People who can sign in, their API tokens and their browser sessions.
-- Times are Unix nanoseconds, NULL when not set. Only hashes of secrets are
-- kept: a bcrypt hash of each password, the SHA-256 of each token's secret
-- and of each session's cookie. A user's tokens and sessions go with them.
CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER,
    expires_at INTEGER,
    last_used  INTEGER
);

-- Deleting a user finds their tokens and sessions without a scan.
CREATE INDEX tokens_user ON tokens (user_name);

CREATE TABLE sessions (
    hash       BLOB PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER,
    expires_at INTEGER,
    max_until  INTEGER
);

CREATE INDEX sessions_user ON sessions (user_name);
