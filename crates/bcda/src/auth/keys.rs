//! The server's token-signing keys.
//!
//! Tokens are signed with Ed25519 (JWS `EdDSA`): fast to sign and verify,
//! small keys, and nothing to configure. Each key has an id (`kid`, in every
//! JWT header) so keys can rotate without downtime: a new key signs new
//! tokens while tokens signed by older keys stay valid until they expire.
//!
//! Private keys are stored in the database sealed with XChaCha20-Poly1305
//! under a 256-bit sealing key, so a database dump alone cannot mint
//! tokens. The sealing key is kept in a file (by default in the data
//! directory, mode 0600) or given in the environment ([`SEALING_KEY_VAR`]),
//! so hosts can share a secret rather than a file system. Every process
//! that issues tokens must use the same sealing key.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use time::OffsetDateTime;

use crate::store::signing_keys::{self, SigningKeyRecord};
use crate::store::{Db, StoreError};

/// The environment variable that may hold the sealing key itself (64
/// hexadecimal characters). Never a flag: a flag's value shows in `ps`.
pub const SEALING_KEY_VAR: &str = "BCDA_SEALING_KEY";

/// The JWS algorithm of every key this server makes.
pub const ALGORITHM: &str = "EdDSA";

/// A problem with key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// Hashing a client secret with argon2id failed (or the blocking task running it did).
    #[error("hashing failed: {0}")]
    Hash(String),
    /// The key file could not be read or created.
    #[error("key file {path}: {message}")]
    KeyFile {
        /// The key file's path (`--key-file` / `BCDA_KEY_FILE`).
        path: PathBuf,
        /// What reading or creating it reported.
        message: String,
    },
    /// A sealed private key does not open with this sealing key.
    #[error(
        "key {0} cannot be unsealed with this sealing key; every process must use the sealing key that sealed it (BCDA_SEALING_KEY, or the key file: --key-file / BCDA_KEY_FILE)"
    )]
    Unseal(String),
    /// A stored key is not usable.
    #[error("signing key {kid} is unusable: {message}")]
    Unusable {
        /// Id (`kid`) of the stored key.
        kid: String,
        /// Why it cannot be used: an unknown algorithm or bad key bytes.
        message: String,
    },
    /// There is no current signing key.
    #[error("no signing key; run `bcda keys rotate` or start the server once")]
    NoSigningKey,
}

/// Where the key that seals private keys comes from.
#[derive(Clone)]
pub enum SealingKey {
    /// A file holding it as 64 hexadecimal characters (`--key-file` /
    /// `BCDA_KEY_FILE`, default `DATA_DIR/signing-keys.key`), created with a
    /// fresh random key when missing.
    File(PathBuf),
    /// The key itself, from [`SEALING_KEY_VAR`]: no file is read or made.
    Given([u8; 32]),
}

impl std::fmt::Debug for SealingKey {
    // The key itself never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealingKey::File(path) => f.debug_tuple("File").field(path).finish(),
            SealingKey::Given(_) => f.write_str("Given(..)"),
        }
    }
}

impl SealingKey {
    /// A key written as 64 hexadecimal characters (surrounding white space
    /// ignored), as the key file holds it; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        decode_hex_key(text.trim()).map(SealingKey::Given)
    }
}

/// A fresh random sealing key written as 64 hexadecimal characters: the
/// key file's contents, or a value for [`SEALING_KEY_VAR`].
pub fn new_sealing_key_hex() -> Result<String, KeyError> {
    Ok(random_bytes::<32>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Seals and unseals private keys with the sealing key.
#[derive(Clone)]
pub struct KeySealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer(..)")
    }
}

const NONCE_LEN: usize = 24;

impl KeySealer {
    /// A sealer over the key `source` gives: read from (or first made in)
    /// its file, or as given.
    pub fn from_source(source: &SealingKey) -> Result<Self, KeyError> {
        match source {
            SealingKey::File(path) => Self::load_or_create(path),
            SealingKey::Given(key) => Ok(Self::from_key(key)),
        }
    }

    /// Reads the key file at `path`, creating it (mode 0600) with a fresh
    /// random key if it does not exist. Safe when several processes start at
    /// once: the file appears atomically, whole, exactly once.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let fail = |message: String| KeyError::KeyFile {
            path: path.to_owned(),
            message,
        };
        if !path.exists() {
            let hex = new_sealing_key_hex()?;
            let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
            write_private_file(&tmp, format!("{hex}\n").as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            // hard_link fails if the file exists: whoever links first wins and
            // everyone reads the winner's key.
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fail(e.to_string())),
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let key = decode_hex_key(text.trim())
            .ok_or_else(|| fail("expected 64 hexadecimal characters".to_owned()))?;
        Ok(Self::from_key(&key))
    }

    /// A sealer over a raw 256-bit key.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Encrypts `secret`, binding it to `kid` so a sealed key cannot be
    /// passed off as another key's.
    pub fn seal(&self, kid: &str, secret: &[u8]) -> Result<Vec<u8>, KeyError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let nonce = XNonce::from(nonce_bytes);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Unseal(kid.to_owned()))?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts what [`KeySealer::seal`] made for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(KeyError::Unseal(kid.to_owned()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| KeyError::Unseal(kid.to_owned()))?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Unseal(kid.to_owned()))
    }
}

/// Cryptographically random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn decode_hex_key(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

/// A key ready to sign tokens.
pub struct ActiveSigningKey {
    /// Its `kid`, written into the header of every token it signs.
    pub kid: String,
    /// The private key in the form jsonwebtoken signs with.
    pub encoding_key: EncodingKey,
}

/// Makes a new Ed25519 key pair, sealed for storage.
pub fn generate(sealer: &KeySealer, now: OffsetDateTime) -> Result<SigningKeyRecord, KeyError> {
    let seed = random_bytes::<32>()?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let kid = uuid::Uuid::new_v4().simple().to_string();
    Ok(SigningKeyRecord {
        sealed_private_key: sealer.seal(&kid, &seed)?,
        public_key: signing.verifying_key().to_bytes().to_vec(),
        algorithm: ALGORITHM.to_owned(),
        kid,
        created_at: now,
        retired_at: None,
    })
}

/// The keys this process signs and verifies with, loaded from the database
/// on demand and cached (public keys never change; the current signing key
/// is re-checked on every issue so a rotation by another process is seen at
/// once).
pub struct Keyring {
    db: Db,
    sealer: KeySealer,
    verifying: RwLock<HashMap<String, Arc<DecodingKey>>>,
    signing: RwLock<Option<Arc<ActiveSigningKey>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring over the keys in `db`, unsealed with `sealer`.
    pub fn new(db: Db, sealer: KeySealer) -> Self {
        Self {
            db,
            sealer,
            verifying: RwLock::new(HashMap::new()),
            signing: RwLock::new(None),
        }
    }

    /// Makes a signing key if there is none, and checks that the current one
    /// opens with this sealing key, so a wrong sealing key fails at start rather
    /// than on the first token request.
    pub async fn ensure_signing_key(&self, now: OffsetDateTime) -> Result<(), super::AuthError> {
        if signing_keys::current(&self.db).await?.is_none() {
            let key = generate(&self.sealer, now)?;
            signing_keys::insert_and_retire_others(&self.db, &key).await?;
            tracing::info!(kid = %key.kid, "created a token signing key");
        }
        self.signing_key().await?;
        Ok(())
    }

    /// Makes a new signing key and retires the current one. Tokens signed by
    /// the retired key remain valid until they expire.
    pub async fn rotate(&self, now: OffsetDateTime) -> Result<SigningKeyRecord, super::AuthError> {
        let key = generate(&self.sealer, now)?;
        signing_keys::insert_and_retire_others(&self.db, &key).await?;
        Ok(key)
    }

    /// The key that signs new tokens: the newest unretired one, unsealed once and cached until it
    /// changes.
    pub async fn signing_key(&self) -> Result<Arc<ActiveSigningKey>, super::AuthError> {
        let record = signing_keys::current(&self.db)
            .await?
            .ok_or(KeyError::NoSigningKey)?;
        if let Some(active) = read(&self.signing).as_ref()
            && active.kid == record.kid
        {
            return Ok(active.clone());
        }
        let active = Arc::new(self.activate(&record)?);
        *write(&self.signing) = Some(active.clone());
        Ok(active)
    }

    fn activate(&self, record: &SigningKeyRecord) -> Result<ActiveSigningKey, KeyError> {
        let unusable = |message: String| KeyError::Unusable {
            kid: record.kid.clone(),
            message,
        };
        if record.algorithm != ALGORITHM {
            return Err(unusable(format!(
                "unsupported algorithm {}",
                record.algorithm
            )));
        }
        let seed = self.sealer.open(&record.kid, &record.sealed_private_key)?;
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| unusable("wrong private key length".to_owned()))?;
        let pkcs8 = ed25519_dalek::SigningKey::from_bytes(&seed)
            .to_pkcs8_der()
            .map_err(|e| unusable(e.to_string()))?;
        Ok(ActiveSigningKey {
            kid: record.kid.clone(),
            encoding_key: EncodingKey::from_ed_der(pkcs8.as_bytes()),
        })
    }

    /// The public key with id `kid`, if this server ever made one.
    pub async fn verifying_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, StoreError> {
        if let Some(key) = read(&self.verifying).get(kid) {
            return Ok(Some(key.clone()));
        }
        let Some(record) = signing_keys::find(&self.db, kid).await? else {
            return Ok(None);
        };
        if record.algorithm != ALGORITHM || record.public_key.len() != 32 {
            return Ok(None);
        }
        let key = Arc::new(DecodingKey::from_ed_der(&record.public_key));
        write(&self.verifying).insert(kid.to_owned(), key.clone());
        Ok(Some(key))
    }
}

// A poisoned lock only means another thread panicked mid-update of a cache;
// the cached values are whole Arcs, so reading on is safe.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_binding() {
        let sealer = KeySealer::from_key(&[7u8; 32]);
        let sealed = sealer.seal("kid-1", b"private").expect("seal");
        assert_eq!(sealer.open("kid-1", &sealed).expect("open"), b"private");
        assert!(sealer.open("kid-2", &sealed).is_err(), "bound to its kid");
        let other = KeySealer::from_key(&[8u8; 32]);
        assert!(other.open("kid-1", &sealed).is_err(), "wrong key file");
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        let a = KeySealer::load_or_create(&path).expect("create");
        let sealed = a.seal("k", b"x").expect("seal");
        let b = KeySealer::load_or_create(&path).expect("reuse");
        assert_eq!(b.open("k", &sealed).expect("open"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "nonsense").expect("write");
        let err = KeySealer::load_or_create(&path).expect_err("bad file");
        assert!(err.to_string().contains("64 hexadecimal"));
    }

    #[test]
    fn a_given_sealing_key_opens_what_its_file_sealed_and_makes_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        let from_file = KeySealer::from_source(&SealingKey::File(path.clone())).expect("create");
        let sealed = from_file.seal("k", b"x").expect("seal");
        let hex = std::fs::read_to_string(&path).expect("read");
        let given = SealingKey::from_hex(&hex).expect("the file's text is a key");
        assert!(
            !format!("{given:?}").contains(hex.trim()),
            "Debug hides the key"
        );
        std::fs::remove_file(&path).expect("remove");
        let sealer = KeySealer::from_source(&given).expect("given");
        assert_eq!(sealer.open("k", &sealed).expect("open"), b"x");
        assert!(!path.exists(), "a given key reads and makes no file");

        let fresh = new_sealing_key_hex().expect("random");
        assert_eq!(fresh.len(), 64);
        assert!(SealingKey::from_hex(&fresh).is_some());
        assert_ne!(fresh, new_sealing_key_hex().expect("random"));
        for bad in [
            "",
            "abc",
            &fresh[..63],
            &format!("{fresh}0"),
            &"g".repeat(64),
        ] {
            assert!(SealingKey::from_hex(bad).is_none(), "{bad:?}");
        }
    }
}
