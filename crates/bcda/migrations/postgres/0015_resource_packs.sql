-- Pre-compressed packs: each beneficiary's exportable resources of one
-- version and type (every row but the 42 CFR Part 2 ones), in the export
-- scan's (lastUpdated, id) order, as NDJSON compressed into raw deflate
-- blocks that end byte-aligned and reference nothing before them, so that
-- an export copies them into its gzip file unchanged
-- (formats/deflate_segments.rs). The importer writes them; the bounds let
-- an export see whether its filters keep every row of a pack (else it
-- reads the rows). Packs are a copy, dropped as soon as any of their rows
-- changes, so a pack is never stale, only missing: a new row's pack by the
-- statement storing it (store/resources.rs `upsert`), a changed or deleted
-- row's by the triggers below.
CREATE TABLE resource_packs (
    beneficiary_id   BIGINT NOT NULL REFERENCES beneficiaries(id),
    fhir_version     BIGINT NOT NULL,
    resource_type    BIGINT NOT NULL,
    level            INTEGER NOT NULL,  -- the deflate level it was compressed at
    resource_count   BIGINT NOT NULL,
    ndjson_bytes     BIGINT NOT NULL,
    first_updated    BIGINT NOT NULL,   -- epoch ms: the rows' lastUpdated bounds
    last_updated     BIGINT NOT NULL,
    last_service_end BIGINT,            -- epoch ms of the latest service end, if any row has one
    deflated         BYTEA NOT NULL,
    PRIMARY KEY (beneficiary_id, fhir_version, resource_type)
);
-- Already compressed: PostgreSQL would only spend time trying again.
ALTER TABLE resource_packs ALTER COLUMN deflated SET STORAGE EXTERNAL;

-- Statement-level triggers with transition tables: one DELETE per
-- statement, however many rows an import's statement writes.
CREATE FUNCTION resource_packs_drop_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM resource_packs p USING (SELECT DISTINCT beneficiary_id, fhir_version, resource_type FROM changed_new) c
     WHERE p.beneficiary_id = c.beneficiary_id AND p.fhir_version = c.fhir_version
       AND p.resource_type = c.resource_type;
    RETURN NULL;
END $$;

CREATE FUNCTION resource_packs_drop_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM resource_packs p USING (SELECT DISTINCT beneficiary_id, fhir_version, resource_type FROM changed_old) c
     WHERE p.beneficiary_id = c.beneficiary_id AND p.fhir_version = c.fhir_version
       AND p.resource_type = c.resource_type;
    RETURN NULL;
END $$;

CREATE TRIGGER resource_packs_drop_on_update_new AFTER UPDATE ON resources
    REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION resource_packs_drop_new();
CREATE TRIGGER resource_packs_drop_on_update_old AFTER UPDATE ON resources
    REFERENCING OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION resource_packs_drop_old();
CREATE TRIGGER resource_packs_drop_on_delete AFTER DELETE ON resources
    REFERENCING OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION resource_packs_drop_old();
