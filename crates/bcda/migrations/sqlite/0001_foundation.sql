-- Foundation schema (SQLite). The PostgreSQL twin is migrations/postgres/0001_foundation.sql;
-- the two must describe the same tables, columns and indexes.
--
-- Every *_at column holds Unix epoch milliseconds (UTC): one representation on both backends,
-- so every query and comparison is the same text on SQLite and PostgreSQL.

CREATE TABLE acos (
    id          TEXT PRIMARY KEY,          -- UUID, internal
    cms_id      TEXT NOT NULL UNIQUE,      -- e.g. A9994
    name        TEXT NOT NULL,
    denied_at   INTEGER,                   -- on the deny list since; NULL = allowed
    created_at  INTEGER NOT NULL
);

CREATE TABLE credentials (
    client_id    TEXT PRIMARY KEY,         -- UUID, shown to the client
    aco_id       TEXT NOT NULL REFERENCES acos (id),
    secret_hash  TEXT NOT NULL,            -- argon2id PHC string; the secret itself is never stored
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX credentials_by_aco ON credentials (aco_id);

CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY,
    algorithm           TEXT NOT NULL,     -- JWS alg, e.g. EdDSA
    public_key          BLOB NOT NULL,
    sealed_private_key  BLOB NOT NULL,     -- nonce || XChaCha20-Poly1305 ciphertext under the key file
    created_at          INTEGER NOT NULL,
    retired_at          INTEGER            -- set when a newer key took over signing
);

-- Every access token issued: the revocation list (revoked_at), the per-ACO rate-limit
-- window (aco_id, issued_at) and the authority on expiry (expires_at).
CREATE TABLE access_tokens (
    jti         TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES credentials (client_id),
    aco_id      TEXT NOT NULL REFERENCES acos (id),
    kid         TEXT NOT NULL REFERENCES signing_keys (kid),
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX access_tokens_by_aco_issued ON access_tokens (aco_id, issued_at);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);
