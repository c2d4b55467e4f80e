-- The failing check upstream that a blocked check names as its root cause
-- (depends_on), so that a restart still says why it is blocked.
ALTER TABLE states ADD COLUMN blocked_by text NOT NULL DEFAULT '';
