-- What a flapping check's results say while it is held flapping: the
-- status it settles on.
ALTER TABLE states ADD COLUMN underlying text NOT NULL DEFAULT '';
