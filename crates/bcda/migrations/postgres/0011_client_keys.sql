-- SMART Backend Services clients: a credential that authenticates with a
-- signed assertion (private_key_jwt) instead of a secret registers its
-- public keys, inline (a JWKS, validated at registration: public keys only)
-- or as the URL it publishes them at. Exactly one of the two is set for a
-- key client; both are NULL for a secret client. A key client's
-- secret_hash is the empty string, which no secret ever matches (the token
-- route checks a decoy hash for it, as for an unknown client id).
ALTER TABLE credentials ADD COLUMN jwks TEXT;
ALTER TABLE credentials ADD COLUMN jwks_url TEXT;

-- The assertion ids (jti) a key client has used, kept until the assertion
-- expires (its exp plus the clock-skew tolerance), so a replay is refused
-- whichever server process sees it. Housekeeping deletes expired rows.
CREATE TABLE client_assertion_ids (
    client_id   TEXT NOT NULL REFERENCES credentials (client_id),
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_ids_by_expiry ON client_assertion_ids (expires_at);
