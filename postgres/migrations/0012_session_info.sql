-- What people see of their sessions, and what a session has proved: how
-- it began, from where, when its person last gave a second factor, and
-- what it still waits for. id names a session without its cookie's hash.
ALTER TABLE sessions ADD COLUMN id text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN method text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN address text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN factor_at timestamptz;
ALTER TABLE sessions ADD COLUMN pending text NOT NULL DEFAULT '';
