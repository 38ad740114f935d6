//! Client ids and secrets: generation, argon2id hashing, verification.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::keys::{KeyError, random_bytes};

/// A new client id (a UUID, as BCDA's are).
pub fn generate_client_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new client secret: 32 random bytes as 64 hex characters, which survive
/// copying into any form, shell or Swagger dialog unchanged.
pub fn generate_secret() -> Result<String, KeyError> {
    let bytes = random_bytes::<32>()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Hashes a secret with argon2id (OWASP parameters: 19 MiB, 2 passes) and a
/// fresh salt, as a PHC string. CPU-heavy: call off the async runtime.
pub fn hash_secret(secret: &str) -> Result<String, KeyError> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| KeyError::Hash(e.to_string()))
}

/// Checks a secret against a stored hash. argon2 compares the digests in
/// constant time; a malformed stored hash never matches. CPU-heavy.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(secret.as_bytes(), hash)
        .is_ok()
}

/// Spends the same time as a real verification, for unknown client ids, so
/// response time does not reveal which client ids exist.
pub fn verify_against_decoy(secret: &str) {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    let decoy = DECOY.get_or_init(|| generate_secret().and_then(|s| hash_secret(&s)).ok());
    if let Some(hash) = decoy {
        let _ = verify_secret(secret, hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let secret = generate_secret().expect("random");
        assert_eq!(secret.len(), 64);
        let hash = hash_secret(&secret).expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(&secret));
        assert!(verify_secret(&secret, &hash));
        assert!(!verify_secret("wrong", &hash));
        assert!(!verify_secret(&secret, "not a hash"));
    }
}
