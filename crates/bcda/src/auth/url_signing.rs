//! Signed download URLs (`--signed-urls`): a manifest's file URL that
//! works without a bearer token until it expires.
//!
//! A URL `/data/{jobId}/{name}?expires=E&kid=K&signature=S` carries
//! `S` = base64url(HMAC-SHA256(key K, job id, ACO id, E, name)): it opens
//! exactly one file of one job of one ACO, until the Unix time `E`
//! (seconds). The ACO is not in the URL; the verifier takes it from the
//! job's record, so a signature is useless for any other job, file or ACO.
//!
//! Keys are random 256-bit HMAC keys stored in the database
//! (`store::url_signing_keys`), sealed like the token-signing keys, so every
//! API process verifies what any other signed. `bcda keys rotate` makes a
//! new key current; a retired key keeps verifying the URLs it signed (their
//! kid names it) until they expire, and never accepts an expiry later than
//! its retirement plus [`MAX_TTL`], so URLs forged with a leaked old key die
//! too.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use super::AuthError;
use super::keys::{KeyError, KeySealer, random_bytes};
use crate::store::Db;
use crate::store::url_signing_keys::{self, UrlSigningKeyRecord};

/// The query parameter holding the URL's expiry, Unix seconds.
pub const EXPIRES_PARAM: &str = "expires";
/// The query parameter naming the key that signed the URL.
pub const KID_PARAM: &str = "kid";
/// The query parameter holding the signature, base64url without padding.
pub const SIGNATURE_PARAM: &str = "signature";

/// The longest lifetime `--signed-urls` may give a URL (a week; the files
/// themselves are downloadable for `--download-window-hours`).
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Clock difference between the process that signed a URL and the one
/// checking it, tolerated when bounding an expiry by [`MAX_TTL`].
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Sets the signature's domain apart from any other use of the key.
const CONTEXT: &str = "bcda-rs signed download URL v1";

type HmacSha256 = Hmac<Sha256>;

/// What a signature is bound to: one file of one job of one ACO.
#[derive(Debug, Clone, Copy)]
pub struct SignedFile<'a> {
    /// The job's id.
    pub job_id: i64,
    /// The file's name, as in the URL's last segment.
    pub name: &'a str,
    /// The ACO (`acos.id`) that owns the job.
    pub aco_id: Uuid,
}

/// The signature parameters of one URL.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlSignature {
    /// Unix time (seconds) from which the URL no longer works.
    pub expires: i64,
    /// The key that signed it.
    pub kid: String,
    /// The HMAC-SHA256 tag.
    pub tag: [u8; 32],
}

impl std::fmt::Debug for UrlSignature {
    // A signature is a credential: it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSignature")
            .field("expires", &self.expires)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl UrlSignature {
    /// The query string carrying the signature:
    /// `expires=...&kid=...&signature=...` (every character URL-safe).
    pub fn query(&self) -> String {
        format!(
            "{EXPIRES_PARAM}={}&{KID_PARAM}={}&{SIGNATURE_PARAM}={}",
            self.expires,
            self.kid,
            URL_SAFE_NO_PAD.encode(self.tag)
        )
    }

    /// The signature a query string carries: `None` when it names none of
    /// the three parameters (an ordinary URL), an error when it names some
    /// but not each exactly once in its form.
    pub fn from_query(query: Option<&str>) -> Option<Result<Self, SignatureError>> {
        let mut expires = Vec::new();
        let mut kid = Vec::new();
        let mut signature = Vec::new();
        for pair in query.unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                EXPIRES_PARAM => expires.push(value),
                KID_PARAM => kid.push(value),
                SIGNATURE_PARAM => signature.push(value),
                _ => {}
            }
        }
        if expires.is_empty() && kid.is_empty() && signature.is_empty() {
            return None;
        }
        Some(Self::from_parts(&expires, &kid, &signature).ok_or(SignatureError::Malformed))
    }

    fn from_parts(expires: &[&str], kid: &[&str], signature: &[&str]) -> Option<Self> {
        let ([expires], [kid], [signature]) = (expires, kid, signature) else {
            return None;
        };
        let digits = !expires.is_empty() && expires.bytes().all(|b| b.is_ascii_digit());
        let kid_ok = !kid.is_empty()
            && kid.len() <= 64
            && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !digits || !kid_ok {
            return None;
        }
        Some(Self {
            expires: expires.parse().ok()?,
            kid: (*kid).to_owned(),
            tag: URL_SAFE_NO_PAD.decode(signature).ok()?.try_into().ok()?,
        })
    }
}

/// Why a signed URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The parameters are incomplete, repeated or not in their form.
    #[error("malformed signed URL")]
    Malformed,
    /// The signature does not match this file, job and ACO under its key,
    /// or names no key.
    #[error("invalid signature")]
    Invalid,
    /// The signature is genuine but its time has passed.
    #[error("signed URL expired")]
    Expired,
    /// The keys could not be read or opened (a server-side problem).
    #[error(transparent)]
    Server(#[from] AuthError),
}

/// An unsealed URL-signing key.
pub struct UrlKey {
    kid: String,
    key: [u8; 32],
}

impl std::fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl UrlKey {
    /// A key with id `kid` over raw key bytes.
    pub fn new(kid: impl Into<String>, key: [u8; 32]) -> Self {
        Self {
            kid: kid.into(),
            key,
        }
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `file` until `expires` (Unix seconds).
    pub fn sign(&self, file: &SignedFile<'_>, expires: i64) -> UrlSignature {
        UrlSignature {
            expires,
            kid: self.kid.clone(),
            tag: self.mac(file, expires).finalize().into_bytes().into(),
        }
    }

    /// Checks `signature` for `file` at `now`: genuine (in constant time),
    /// not expired, and not further ahead than this key may sign (from
    /// `now`, or from the key's retirement when it has been retired).
    pub fn check(
        &self,
        file: &SignedFile<'_>,
        signature: &UrlSignature,
        retired_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        if signature.kid != self.kid
            || self
                .mac(file, signature.expires)
                .verify_slice(&signature.tag)
                .is_err()
        {
            return Err(SignatureError::Invalid);
        }
        let expires = OffsetDateTime::from_unix_timestamp(signature.expires)
            .map_err(|_| SignatureError::Invalid)?;
        if expires > retired_at.unwrap_or(now) + MAX_TTL + CLOCK_SKEW {
            return Err(SignatureError::Invalid);
        }
        if now >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }

    /// The HMAC over everything the signature binds, one field a line; the
    /// file name last, so no name can shift the fields before it.
    fn mac(&self, file: &SignedFile<'_>, expires: i64) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        let message = format!(
            "{CONTEXT}\n{}\n{}\n{}\n{}\n{}",
            self.kid,
            file.job_id,
            file.aco_id.as_hyphenated(),
            expires,
            file.name
        );
        mac.update(message.as_bytes());
        mac
    }
}

/// What a URL key is sealed under: its kid, set apart from token-signing
/// keys' kids.
fn sealing_label(kid: &str) -> String {
    format!("url-signing:{kid}")
}

/// Makes a new URL-signing key, sealed for storage.
pub fn generate(sealer: &KeySealer, now: OffsetDateTime) -> Result<UrlSigningKeyRecord, KeyError> {
    let key = random_bytes::<32>()?;
    let kid = Uuid::new_v4().simple().to_string();
    Ok(UrlSigningKeyRecord {
        sealed_key: sealer.seal(&sealing_label(&kid), &key)?,
        kid,
        created_at: now,
        retired_at: None,
    })
}

/// The URL-signing keys in the database, unsealed on demand. Every call
/// reads the database, so a rotation by another process is seen at once.
pub struct UrlKeys {
    db: Db,
    sealer: KeySealer,
}

impl std::fmt::Debug for UrlKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlKeys").finish_non_exhaustive()
    }
}

impl UrlKeys {
    /// The keys in `db`, unsealed with `sealer`.
    pub fn new(db: Db, sealer: KeySealer) -> Self {
        Self { db, sealer }
    }

    /// Makes a key if there is none, and checks that the current one opens
    /// with this sealing key, so a wrong sealing key fails at start.
    pub async fn ensure_key(&self, now: OffsetDateTime) -> Result<(), AuthError> {
        if url_signing_keys::current(&self.db).await?.is_none() {
            let key = generate(&self.sealer, now)?;
            url_signing_keys::insert_and_retire_others(&self.db, &key).await?;
            tracing::info!(kid = %key.kid, "created a URL signing key");
        }
        self.current().await?;
        Ok(())
    }

    /// Makes a new current key and retires the current one, whose URLs keep
    /// working until they expire.
    pub async fn rotate(&self, now: OffsetDateTime) -> Result<UrlSigningKeyRecord, AuthError> {
        let key = generate(&self.sealer, now)?;
        url_signing_keys::insert_and_retire_others(&self.db, &key).await?;
        Ok(key)
    }

    /// The key that signs new URLs.
    pub async fn current(&self) -> Result<UrlKey, AuthError> {
        let record = url_signing_keys::current(&self.db)
            .await?
            .ok_or(KeyError::NoSigningKey)?;
        Ok(self.unseal(&record)?)
    }

    /// Checks a URL's signature for `file` at `now` against the key it
    /// names.
    pub async fn check(
        &self,
        file: &SignedFile<'_>,
        signature: &UrlSignature,
        now: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        let record = url_signing_keys::find(&self.db, &signature.kid)
            .await
            .map_err(AuthError::from)?
            .ok_or(SignatureError::Invalid)?;
        let key = self.unseal(&record).map_err(AuthError::from)?;
        key.check(file, signature, record.retired_at, now)
    }

    fn unseal(&self, record: &UrlSigningKeyRecord) -> Result<UrlKey, KeyError> {
        let key = self
            .sealer
            .open(&sealing_label(&record.kid), &record.sealed_key)?;
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| KeyError::Unusable {
            kid: record.kid.clone(),
            message: "wrong key length".to_owned(),
        })?;
        Ok(UrlKey::new(record.kid.clone(), key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 12:00:00 UTC);

    fn key() -> UrlKey {
        UrlKey::new("k1", [3u8; 32])
    }

    fn aco() -> Uuid {
        Uuid::from_u128(0x1234)
    }

    fn file(name: &str) -> SignedFile<'_> {
        SignedFile {
            job_id: 42,
            name,
            aco_id: aco(),
        }
    }

    fn in_15_minutes() -> i64 {
        (NOW + Duration::from_secs(900)).unix_timestamp()
    }

    #[test]
    fn a_signature_opens_its_file_until_it_expires() {
        let signature = key().sign(&file("a.ndjson"), in_15_minutes());
        assert!(
            key()
                .check(&file("a.ndjson"), &signature, None, NOW)
                .is_ok()
        );
        let last_moment = NOW + Duration::from_secs(900) - time::Duration::milliseconds(1);
        assert!(
            key()
                .check(&file("a.ndjson"), &signature, None, last_moment)
                .is_ok()
        );
        for later in [
            NOW + Duration::from_secs(900),
            NOW + Duration::from_secs(901),
        ] {
            assert!(matches!(
                key().check(&file("a.ndjson"), &signature, None, later),
                Err(SignatureError::Expired)
            ));
        }
    }

    #[test]
    fn a_signature_is_useless_for_anything_else() {
        let signature = key().sign(&file("a.ndjson"), in_15_minutes());
        let others = [
            file("b.ndjson"),
            SignedFile {
                job_id: 43,
                ..file("a.ndjson")
            },
            SignedFile {
                aco_id: Uuid::from_u128(0x5678),
                ..file("a.ndjson")
            },
        ];
        for other in others {
            assert!(
                matches!(
                    key().check(&other, &signature, None, NOW),
                    Err(SignatureError::Invalid)
                ),
                "{other:?}"
            );
        }
        let other_key = UrlKey::new("k1", [4u8; 32]);
        assert!(matches!(
            other_key.check(&file("a.ndjson"), &signature, None, NOW),
            Err(SignatureError::Invalid)
        ));
    }

    #[test]
    fn tampering_with_any_part_is_refused() {
        let signature = key().sign(&file("a.ndjson"), in_15_minutes());
        let later = UrlSignature {
            expires: signature.expires + 3600,
            ..signature.clone()
        };
        let other_kid = UrlSignature {
            kid: "k2".to_owned(),
            ..signature.clone()
        };
        let mut flipped = signature.clone();
        flipped.tag[0] ^= 1;
        for tampered in [later, other_kid, flipped] {
            assert!(
                matches!(
                    key().check(&file("a.ndjson"), &tampered, None, NOW),
                    Err(SignatureError::Invalid)
                ),
                "{tampered:?}"
            );
        }
        // An expired URL whose expiry was pushed back is a forgery, not an
        // expired URL.
        let old = key().sign(&file("a.ndjson"), NOW.unix_timestamp() - 10);
        let pushed = UrlSignature {
            expires: in_15_minutes(),
            ..old
        };
        assert!(matches!(
            key().check(&file("a.ndjson"), &pushed, None, NOW),
            Err(SignatureError::Invalid)
        ));
    }

    #[test]
    fn expiries_beyond_what_the_key_may_sign_are_refused() {
        let too_far = (NOW + MAX_TTL + CLOCK_SKEW + Duration::from_secs(1)).unix_timestamp();
        let signature = key().sign(&file("a.ndjson"), too_far);
        assert!(matches!(
            key().check(&file("a.ndjson"), &signature, None, NOW),
            Err(SignatureError::Invalid)
        ));
        // A retired key: at most MAX_TTL (and the skew) after its retirement.
        let retired = NOW - Duration::from_secs(3600);
        let within = (retired + MAX_TTL).unix_timestamp();
        let beyond = (retired + MAX_TTL + CLOCK_SKEW + Duration::from_secs(1)).unix_timestamp();
        let ok = key().sign(&file("a.ndjson"), within);
        assert!(
            key()
                .check(&file("a.ndjson"), &ok, Some(retired), NOW)
                .is_ok()
        );
        let forged = key().sign(&file("a.ndjson"), beyond);
        assert!(matches!(
            key().check(&file("a.ndjson"), &forged, Some(retired), NOW),
            Err(SignatureError::Invalid)
        ));
    }

    #[test]
    fn query_strings_round_trip_and_malformed_ones_are_refused() {
        let signature = key().sign(&file("a.ndjson"), in_15_minutes());
        let query = signature.query();
        assert!(query.starts_with(&format!("expires={}&kid=k1&signature=", in_15_minutes())));
        assert!(
            query
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=&-_".contains(&b)),
            "{query}"
        );
        let parsed = UrlSignature::from_query(Some(&query))
            .expect("a signature")
            .expect("well formed");
        assert_eq!(parsed, signature);
        assert!(UrlSignature::from_query(None).is_none());
        assert!(UrlSignature::from_query(Some("_type=Patient")).is_none());
        let tag = URL_SAFE_NO_PAD.encode(signature.tag);
        for bad in [
            "expires=1".to_owned(),
            format!("kid=k1&signature={tag}"),
            format!("expires=1&expires=2&kid=k1&signature={tag}"),
            format!("expires=-1&kid=k1&signature={tag}"),
            format!("expires=1&kid=k%31&signature={tag}"),
            format!("expires=1&kid=k1&signature={tag}A"),
            "expires=1&kid=k1&signature=".to_owned(),
        ] {
            assert!(
                matches!(
                    UrlSignature::from_query(Some(&bad)),
                    Some(Err(SignatureError::Malformed))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_leaves_the_secrets_out() {
        let signature = key().sign(&file("a.ndjson"), in_15_minutes());
        let tag = URL_SAFE_NO_PAD.encode(signature.tag);
        assert!(!format!("{signature:?}").contains(&tag));
        assert!(!format!("{:?}", key()).contains("3, 3"));
    }

    #[test]
    fn sealed_keys_open_only_as_url_keys() {
        let sealer = KeySealer::from_key(&[9u8; 32]);
        let record = generate(&sealer, NOW).expect("generate");
        assert!(
            sealer
                .open(&sealing_label(&record.kid), &record.sealed_key)
                .is_ok()
        );
        assert!(sealer.open(&record.kid, &record.sealed_key).is_err());
    }
}
