-- Claims that are 42 CFR Part 2 (substance use disorder) data. BCDA asks BFD
-- to leave them out of every export (`excludeSAMHSA=true`): the store keeps
-- them, flagged, and the export scan never returns them. The importer derives
-- the flag (import/resources.rs; the codes: domain/part2.rs, docs/REFERENCES.md
-- "SAMHSA (42 CFR Part 2) codes").
ALTER TABLE resources ADD COLUMN samhsa INTEGER NOT NULL DEFAULT 0;  -- boolean

-- The export scan asks for samhsa = 0: with the flag ahead of lastUpdated the
-- scan stays one index range, in (lastUpdated, id) order.
DROP INDEX resources_scan;
CREATE INDEX resources_scan ON resources (beneficiary_id, fhir_version, resource_type, samhsa, last_updated, resource_id);

-- ExplanationOfBenefits stored before (the only claims the importer took):
-- flagged by the importer's rules, so none of them is exported from now on.
-- A diagnosis coding of a Part 2 category (trimmed, upper case, the category
-- followed by nothing, a dot or a letter or digit), a Part 2 MS-DRG (the last
-- three characters of a clm_drg_cd coding), or the 42CFRPart2 security label.
UPDATE resources
   SET samhsa = 1
 WHERE resource_type = 3
   AND (
       EXISTS (
           SELECT 1
             FROM json_each(CAST(resources.body AS TEXT), '$.diagnosis') AS d,
                  json_each(d.value, '$.diagnosisCodeableConcept.coding') AS c
            WHERE substr(upper(trim(json_extract(c.value, '$.code'))), 1, 3)
                      IN ('F10', 'F11', 'F12', 'F13', 'F14', 'F15', 'F16', 'F18', 'F19', 'F55')
              AND (length(trim(json_extract(c.value, '$.code'))) = 3
                   OR substr(upper(trim(json_extract(c.value, '$.code'))), 4, 1) GLOB '[A-Z0-9.]')
       )
       OR EXISTS (
           SELECT 1
             FROM json_each(CAST(resources.body AS TEXT), '$.supportingInfo') AS i,
                  json_each(i.value, '$.code.coding') AS c
            WHERE json_extract(c.value, '$.system') LIKE '%/clm_drg_cd'
              AND substr(trim(json_extract(c.value, '$.code')), -3) IN ('522', '523', '895', '896', '897')
       )
       OR EXISTS (
           SELECT 1
             FROM json_each(CAST(resources.body AS TEXT), '$.information') AS i,
                  json_each(i.value, '$.code.coding') AS c
            WHERE json_extract(c.value, '$.system') LIKE '%/clm_drg_cd'
              AND substr(trim(json_extract(c.value, '$.code')), -3) IN ('522', '523', '895', '896', '897')
       )
       OR EXISTS (
           SELECT 1
             FROM json_each(CAST(resources.body AS TEXT), '$.diagnosis') AS d,
                  json_each(d.value, '$.packageCode.coding') AS c
            WHERE json_extract(c.value, '$.system') LIKE '%/clm_drg_cd'
              AND substr(trim(json_extract(c.value, '$.code')), -3) IN ('522', '523', '895', '896', '897')
       )
       OR EXISTS (
           SELECT 1
             FROM json_each(CAST(resources.body AS TEXT), '$.meta.security') AS s
            WHERE json_extract(s.value, '$.code') = '42CFRPart2'
       )
   );
