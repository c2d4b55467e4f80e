-- Every change of an alert is a compare-and-set on its version, so that of
-- two writers changing one alert exactly one wins. Alerts written before
-- are at version 1: 0 is the version of an alert not yet stored.
ALTER TABLE alerts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET version = 1;
