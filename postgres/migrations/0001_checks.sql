-- Checks get a small integer id so that the rows repeated per check stay
-- small, and so that forgetting a check is one delete that cascades to
-- everything it owns. Other tables of the check store come in the next
-- migrations.
CREATE TABLE checks (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text   NOT NULL UNIQUE
);
