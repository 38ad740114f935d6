-- Bulk export (SQLite): jobs, the durable task queue, output files.
-- Twin: migrations/postgres/0003_exports.sql. Times are Unix epoch milliseconds (UTC).

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,      -- the numeric job id clients see
    aco_id            TEXT NOT NULL REFERENCES acos (id),
    api_version       INTEGER NOT NULL,         -- 1 (STU3) or 2 (R4)
    request_url       TEXT NOT NULL,            -- the kick-off URL as received
    request_kind      TEXT NOT NULL,            -- 'patient', 'group_all' or 'group_runout'
    resource_types    TEXT NOT NULL,            -- comma list of the types exported, e.g. 'Patient,Coverage'
    since             INTEGER,                  -- _since
    status            TEXT NOT NULL,            -- Pending, In Progress, Completed, Failed, Cancelled, Archived, Expired, FailedExpired, CancelledExpired
    transaction_time  INTEGER,                  -- fixed at planning; upper bound on lastUpdated
    tasks_total       INTEGER NOT NULL DEFAULT 0,   -- export tasks planned
    tasks_done        INTEGER NOT NULL DEFAULT 0,   -- export tasks finished
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    completed_at      INTEGER                   -- when it reached Completed (files expire from here)
);
CREATE INDEX jobs_by_aco ON jobs (aco_id, created_at);
CREATE INDEX jobs_by_status ON jobs (status, updated_at);

-- The durable queue. A task is claimed by setting a lease; every claim bumps
-- `fence`, and every write a task makes is conditional on the fence it claimed
-- with, so a worker whose lease lapsed cannot overwrite a newer claim's work.
CREATE TABLE tasks (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL,            -- 'plan' or 'export'
    payload           TEXT NOT NULL,            -- JSON
    state             TEXT NOT NULL,            -- 'ready', 'running', 'done', 'failed', 'cancelled'
    run_after         INTEGER NOT NULL,         -- not before (retry backoff)
    attempts          INTEGER NOT NULL DEFAULT 0,
    fence             INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX tasks_claimable ON tasks (state, run_after, id);
CREATE INDEX tasks_by_job ON tasks (job_id, state);

-- Every output file of a job: the manifest is built from these rows, and a
-- download may only reach a file listed here.
CREATE TABLE job_files (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_id         INTEGER,
    name            TEXT NOT NULL,              -- server-generated, e.g. '<uuid>.ndjson', '<uuid>-error.ndjson'
    resource_type   TEXT NOT NULL,              -- Patient, Coverage, ExplanationOfBenefit, or OperationOutcome for error files
    is_error        INTEGER NOT NULL,           -- boolean
    resource_count  INTEGER NOT NULL,
    ndjson_bytes    INTEGER NOT NULL,           -- uncompressed
    stored_bytes    INTEGER NOT NULL,           -- gzip, as stored
    sha256          TEXT NOT NULL,              -- of the uncompressed NDJSON, hex
    created_at      INTEGER NOT NULL,
    UNIQUE (job_id, name)
);
