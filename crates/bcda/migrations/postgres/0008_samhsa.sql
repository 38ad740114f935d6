-- Claims that are 42 CFR Part 2 (substance use disorder) data. BCDA asks BFD
-- to leave them out of every export (`excludeSAMHSA=true`): the store keeps
-- them, flagged, and the export scan never returns them. The importer derives
-- the flag (import/resources.rs; the codes: domain/part2.rs, docs/REFERENCES.md
-- "SAMHSA (42 CFR Part 2) codes").
ALTER TABLE resources ADD COLUMN samhsa BOOLEAN NOT NULL DEFAULT FALSE;

-- The export scan asks for samhsa = FALSE: with the flag ahead of lastUpdated
-- the scan stays one index range, in (lastUpdated, id) order.
DROP INDEX resources_scan;
CREATE INDEX resources_scan ON resources (beneficiary_id, fhir_version, resource_type, samhsa, last_updated, resource_id);

-- ExplanationOfBenefits stored before (the only claims the importer took):
-- flagged by the importer's rules, so none of them is exported from now on.
-- A diagnosis coding of a Part 2 category (trimmed, upper case, the category
-- followed by nothing, a dot or a letter or digit), a Part 2 MS-DRG (the last
-- three characters of a clm_drg_cd coding), or the 42CFRPart2 security label.
CREATE OR REPLACE FUNCTION pg_temp.bcda_part2(doc jsonb) RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (
               SELECT 1
                 FROM jsonb_path_query(doc, 'lax $.diagnosis[*].diagnosisCodeableConcept.coding[*].code') AS code
                WHERE upper(btrim(code #>> '{}')) ~ '^(F1[0-689]|F55)([A-Z0-9.]|$)'
           )
        OR EXISTS (
               SELECT 1
                 FROM jsonb_path_query(doc, 'lax $.supportingInfo[*].code.coding[*]') AS c
                WHERE c ->> 'system' LIKE '%/clm_drg_cd'
                  AND right(btrim(c ->> 'code'), 3) IN ('522', '523', '895', '896', '897')
           )
        OR EXISTS (
               SELECT 1
                 FROM jsonb_path_query(doc, 'lax $.information[*].code.coding[*]') AS c
                WHERE c ->> 'system' LIKE '%/clm_drg_cd'
                  AND right(btrim(c ->> 'code'), 3) IN ('522', '523', '895', '896', '897')
           )
        OR EXISTS (
               SELECT 1
                 FROM jsonb_path_query(doc, 'lax $.diagnosis[*].packageCode.coding[*]') AS c
                WHERE c ->> 'system' LIKE '%/clm_drg_cd'
                  AND right(btrim(c ->> 'code'), 3) IN ('522', '523', '895', '896', '897')
           )
        OR EXISTS (
               SELECT 1
                 FROM jsonb_path_query(doc, 'lax $.meta.security[*].code') AS code
                WHERE code #>> '{}' = '42CFRPart2'
           )
$$;
UPDATE resources
   SET samhsa = TRUE
 WHERE resource_type = 3
   AND pg_temp.bcda_part2(convert_from(body, 'UTF8')::jsonb);
DROP FUNCTION pg_temp.bcda_part2(jsonb);
