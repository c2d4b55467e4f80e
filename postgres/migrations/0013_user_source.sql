-- Where a user came from: '' for one made with `nightowl user add` or on
-- the dashboard, 'oidc' for one made at their first single sign-on, whose
-- role then follows the identity provider's groups.
ALTER TABLE users ADD COLUMN source text NOT NULL DEFAULT '';
