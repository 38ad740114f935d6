-- API v3: which ExplanationOfBenefits a job exports (its `_typeFilter`, or
-- the default System-Type tags, narrowed to the ACO's entitlement), as the
-- JSON of domain::eob_facts::EobFilter; NULL on v1/v2 and for jobs without
-- ExplanationOfBenefit. `eob_filter_defaulted` says the default tags were
-- added, so the export lists BCDA's warnings-and-info file.
ALTER TABLE jobs ADD COLUMN eob_filter TEXT;
ALTER TABLE jobs ADD COLUMN eob_filter_defaulted BOOLEAN NOT NULL DEFAULT FALSE;
