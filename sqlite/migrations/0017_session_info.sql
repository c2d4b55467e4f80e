-- What people see of their sessions, and what a session has proved: how
-- it began, from where, when its person last gave a second factor, and
-- what it still waits for. id names a session without its cookie's hash.
ALTER TABLE sessions ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN factor_at INTEGER;
ALTER TABLE sessions ADD COLUMN pending TEXT NOT NULL DEFAULT '';
