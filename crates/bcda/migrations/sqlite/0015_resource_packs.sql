-- Pre-compressed packs: each beneficiary's exportable resources of one
-- version and type (every row but the 42 CFR Part 2 ones), in the export
-- scan's (lastUpdated, id) order, as NDJSON compressed into raw deflate
-- blocks that end byte-aligned and reference nothing before them, so that
-- an export copies them into its gzip file unchanged
-- (formats/deflate_segments.rs). The importer writes them; the bounds let
-- an export see whether its filters keep every row of a pack (else it
-- reads the rows). Packs are a copy, dropped as soon as any of their rows
-- changes, so a pack is never stale, only missing: a new row's pack by the
-- statement storing it (store/resources.rs `upsert`, one DELETE per
-- statement rather than a trigger's per row), a changed or deleted row's
-- by the triggers below.
CREATE TABLE resource_packs (
    beneficiary_id   INTEGER NOT NULL REFERENCES beneficiaries(id),
    fhir_version     INTEGER NOT NULL,
    resource_type    INTEGER NOT NULL,
    level            INTEGER NOT NULL,  -- the deflate level it was compressed at
    resource_count   INTEGER NOT NULL,
    ndjson_bytes     INTEGER NOT NULL,
    first_updated    INTEGER NOT NULL,  -- epoch ms: the rows' lastUpdated bounds
    last_updated     INTEGER NOT NULL,
    last_service_end INTEGER,           -- epoch ms of the latest service end, if any row has one
    deflated         BLOB NOT NULL,
    PRIMARY KEY (beneficiary_id, fhir_version, resource_type)
);

CREATE TRIGGER resource_packs_drop_on_update AFTER UPDATE ON resources BEGIN
    DELETE FROM resource_packs WHERE beneficiary_id = OLD.beneficiary_id
        AND fhir_version = OLD.fhir_version AND resource_type = OLD.resource_type;
    DELETE FROM resource_packs WHERE beneficiary_id = NEW.beneficiary_id
        AND fhir_version = NEW.fhir_version AND resource_type = NEW.resource_type;
END;

CREATE TRIGGER resource_packs_drop_on_delete AFTER DELETE ON resources BEGIN
    DELETE FROM resource_packs WHERE beneficiary_id = OLD.beneficiary_id
        AND fhir_version = OLD.fhir_version AND resource_type = OLD.resource_type;
END;
