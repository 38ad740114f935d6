-- The end of an ExplanationOfBenefit's billable period (epoch ms of the date,
-- 00:00 UTC), for Group/runout's claims-through cap. NULL for other types, and
-- for EOBs without a billable period end (never capped).
ALTER TABLE resources ADD COLUMN service_end INTEGER;

-- Rows stored before: a date that is not a real calendar date stays NULL
-- (SQLite would roll 2025-02-30 over into March; the importer checks dates
-- from now on).
UPDATE resources
   SET service_end = (
       SELECT CASE WHEN date(day, '+0 days') = day THEN unixepoch(day) * 1000 END
         FROM (SELECT substr(json_extract(CAST(body AS TEXT), '$.billablePeriod.end'), 1, 10) AS day)
   )
 WHERE resource_type = 3;
