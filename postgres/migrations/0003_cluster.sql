-- The nodes of a cluster, each heartbeating by updating seen_at with the
-- database's clock, so that nodes whose clocks disagree still agree on who
-- is alive. A node that stops cleanly sets left_at; one whose seen_at is
-- old without it was lost.
CREATE TABLE cluster_nodes (
    name       text        PRIMARY KEY,
    addr       text        NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL,
    left_at    timestamptz
);

-- Which node runs each check, until when. A node runs a check only while
-- it holds the lease, and takes one only when nobody else holds it
-- unexpired, so two nodes never run one check at once while both reach the
-- database.
CREATE TABLE check_leases (
    check_name text        PRIMARY KEY,
    node       text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX check_leases_node ON check_leases (node);
