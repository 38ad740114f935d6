-- Claims data (SQLite): attribution, opt-outs, the resource store, synthetic ACOs.
-- Twin: migrations/postgres/0002_claims_data.sql. Times are Unix epoch milliseconds (UTC);
-- calendar dates are the epoch milliseconds of their 00:00 UTC.

-- Attribution files as imported: one row per CCLF package or CSV attribution file.
CREATE TABLE attribution_files (
    id                INTEGER PRIMARY KEY,
    aco_id            TEXT NOT NULL REFERENCES acos (id),
    name              TEXT NOT NULL UNIQUE,     -- the file (or archive) name as received
    sha256            TEXT NOT NULL,            -- of the bytes imported: same name, other bytes = refused
    kind              TEXT NOT NULL CHECK (kind IN ('default', 'runout')),
    performance_year  INTEGER NOT NULL,         -- four digits
    attributed_at     INTEGER NOT NULL,         -- the file's own timestamp: the attribution date
    member_count      INTEGER NOT NULL,
    imported_at       INTEGER NOT NULL
);
CREATE INDEX attribution_files_by_aco ON attribution_files (aco_id, kind, performance_year, attributed_at);

CREATE TABLE attribution_members (
    file_id  INTEGER NOT NULL REFERENCES attribution_files (id) ON DELETE CASCADE,
    mbi      TEXT NOT NULL,
    PRIMARY KEY (file_id, mbi)
);

-- 1-800-MEDICARE data-sharing preference files and their records.
CREATE TABLE opt_out_files (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    sha256        TEXT NOT NULL,
    file_date     INTEGER NOT NULL,             -- the timestamp in the file name
    record_count  INTEGER NOT NULL,
    imported_at   INTEGER NOT NULL
);

CREATE TABLE opt_outs (
    file_id         INTEGER NOT NULL REFERENCES opt_out_files (id) ON DELETE CASCADE,
    line            INTEGER NOT NULL,           -- line in the file, for traceability
    mbi             TEXT NOT NULL,
    effective_date  INTEGER,                    -- NULL when the record has none
    preference      TEXT NOT NULL,              -- 'Y', 'N' or '' (no preference recorded)
    source_code     TEXT NOT NULL,
    aco_cms_id      TEXT NOT NULL,
    PRIMARY KEY (file_id, line)
);
CREATE INDEX opt_outs_by_mbi ON opt_outs (mbi, effective_date);

-- Beneficiaries the resource store holds FHIR resources for.
CREATE TABLE beneficiaries (
    id          INTEGER PRIMARY KEY,
    mbi         TEXT NOT NULL UNIQUE,
    patient_id  TEXT NOT NULL UNIQUE            -- the BFD beneficiary id, Patient.id in both versions
);

-- FHIR resources as serialized JSON, passed through to export files unchanged.
CREATE TABLE resources (
    beneficiary_id  INTEGER NOT NULL REFERENCES beneficiaries (id),
    fhir_version    INTEGER NOT NULL,           -- 1 = STU3 (API v1), 2 = R4 (API v2)
    resource_type   INTEGER NOT NULL,           -- 1 Patient, 2 Coverage, 3 ExplanationOfBenefit
    resource_id     TEXT NOT NULL,
    last_updated    INTEGER NOT NULL,           -- meta.lastUpdated
    body            BLOB NOT NULL,
    PRIMARY KEY (fhir_version, resource_type, resource_id)
);
-- The export scan: one beneficiary's resources of one type and version, in lastUpdated order.
CREATE INDEX resources_scan ON resources (beneficiary_id, fhir_version, resource_type, last_updated, resource_id);

-- ACOs whose attribution, opt-outs and resources are generated procedurally (the sandbox).
CREATE TABLE synthetic_acos (
    aco_id              TEXT PRIMARY KEY REFERENCES acos (id),
    seed                INTEGER NOT NULL,       -- u64 stored as its two's-complement i64
    beneficiaries       INTEGER NOT NULL,
    first_service_year  INTEGER NOT NULL,
    anchor_date         INTEGER NOT NULL,       -- the day the attribution history is laid out against
    stale_attribution   INTEGER NOT NULL        -- boolean
);
