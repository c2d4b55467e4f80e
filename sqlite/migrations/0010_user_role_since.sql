-- When each user was given their role (Unix nanoseconds): an approval of an
-- action request counts only from an account that had its role before the
-- request was made. NULL for users whose role has not changed since before
-- it was recorded.
ALTER TABLE users ADD COLUMN role_since INTEGER;
