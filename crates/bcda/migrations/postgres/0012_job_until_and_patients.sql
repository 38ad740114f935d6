-- The Bulk Data IG's `_until` and `patient` kick-off parameters (issue 14).
-- `until`: the last `meta.lastUpdated` the export includes, in epoch
-- milliseconds: the client's `_until` is exclusive, so this is the instant
-- just before it. NULL: up to the transaction time, as before.
-- `patient_mbis`: the beneficiaries a POST kick-off's `patient` entries
-- chose, as a JSON array of MBIs. NULL: every beneficiary of the attribution.
ALTER TABLE jobs ADD COLUMN until BIGINT;
ALTER TABLE jobs ADD COLUMN patient_mbis TEXT;
