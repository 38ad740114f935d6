-- Which kinds of claims data each ACO is entitled to, as BCDA's ACO config
-- `data`: a comma-separated list of `adjudicated` and `partially-adjudicated`
-- (domain/data_sets.rs parses and prints it). Existing ACOs keep what every
-- ACO had so far: adjudicated claims.
ALTER TABLE acos ADD COLUMN data_sets TEXT NOT NULL DEFAULT 'adjudicated';
