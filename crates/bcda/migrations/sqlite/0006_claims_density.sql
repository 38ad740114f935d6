-- A synthetic ACO's claims density: percent (1-100) of the full per-year
-- claim rates its beneficiaries have. Existing rows keep full density; the
-- sandbox sets its ACOs low so their export files stay small.
ALTER TABLE synthetic_acos ADD COLUMN claims_density INTEGER NOT NULL DEFAULT 100;
