-- The end of an ExplanationOfBenefit's billable period (epoch ms of the date,
-- 00:00 UTC), for Group/runout's claims-through cap. NULL for other types, and
-- for EOBs without a billable period end (never capped).
ALTER TABLE resources ADD COLUMN service_end BIGINT;

-- Rows stored before: a date that does not parse stays NULL rather than
-- failing the migration (the importer checks dates from now on).
CREATE FUNCTION pg_temp.bcda_date_ms(value text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (EXTRACT(EPOCH FROM left(value, 10)::date) * 1000)::bigint;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
UPDATE resources
   SET service_end = pg_temp.bcda_date_ms(convert_from(body, 'UTF8')::jsonb #>> '{billablePeriod,end}')
 WHERE resource_type = 3;
