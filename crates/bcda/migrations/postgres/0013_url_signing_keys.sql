-- Keys that sign download URLs (--signed-urls): HMAC-SHA256 keys, each
-- sealed like the token-signing keys (nonce || XChaCha20-Poly1305
-- ciphertext under the sealing key, the kid as associated data). The newest
-- unretired key signs; a retired key still verifies the URLs it signed until
-- they expire (a URL names its key's kid).
CREATE TABLE url_signing_keys (
    kid         TEXT PRIMARY KEY,
    sealed_key  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT              -- set when a newer key took over signing
);
