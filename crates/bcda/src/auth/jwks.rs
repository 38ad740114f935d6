//! The JSON Web Key Sets of SMART Backend Services clients: what a client
//! may register (public keys only, at least one key this server can verify
//! with), and the key a client assertion names.
//!
//! The same rules apply to a JWKS registered inline (checked once, at
//! registration, so a mistake is reported to the administrator) and to one
//! fetched from a client's JWKS URL (checked at every fetch; a set that
//! breaks them is refused whole).

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// The largest JWKS accepted, inline or fetched: a set of a few public
/// keys is a few kilobytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The smallest RSA modulus accepted (NIST SP 800-131A; the SMART IG's
/// RS384 clients use 2048 bits or more).
pub const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus the verifier handles (the `rsa` crate's limit).
pub const MAX_RSA_BITS: usize = 4096;

/// Members that only a private (or symmetric) key has: a JWKS holding any
/// of them gives away a secret and is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The signature algorithms a client assertion may use: the two the SMART
/// Backend Services IG requires clients to support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-384, an RSA key.
    Rs384,
    /// ECDSA on P-384 with SHA-384, an EC key.
    Es384,
}

impl SigningAlg {
    /// Every accepted algorithm, in the order discovery lists them.
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Rs384, SigningAlg::Es384];

    /// The algorithm a JWS `alg` names, if it is one we accept.
    pub fn parse(alg: &str) -> Option<Self> {
        match alg {
            "RS384" => Some(SigningAlg::Rs384),
            "ES384" => Some(SigningAlg::Es384),
            _ => None,
        }
    }

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs384 => "RS384",
            SigningAlg::Es384 => "ES384",
        }
    }

    /// The algorithm as `jsonwebtoken` names it.
    pub fn algorithm(self) -> Algorithm {
        match self {
            SigningAlg::Rs384 => Algorithm::RS384,
            SigningAlg::Es384 => Algorithm::ES384,
        }
    }
}

/// One key a client assertion can be verified with.
#[derive(Clone)]
pub struct ClientKey {
    /// The key's id (`kid`), which an assertion's header names.
    pub kid: String,
    /// The one algorithm the key verifies (its `kty` and size decide it).
    pub alg: SigningAlg,
    key: DecodingKey,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// The key in the form `jsonwebtoken` verifies with.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// The usable keys of a valid JWKS (keys of other types, curves or sizes
/// are allowed in the set and ignored).
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<ClientKey>,
}

/// Why a JWKS is refused; each message is one line naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Over [`MAX_JWKS_BYTES`].
    #[error("the JWKS is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// Not JSON, or not an object.
    #[error("not a JWKS: {0}")]
    NotJson(String),
    /// No `keys` array.
    #[error("not a JWKS: it has no \"keys\" array")]
    NoKeys,
    /// A key without `kty`.
    #[error("key {index} has no \"kty\"")]
    MissingKty {
        /// The key's position in `keys`, from 0.
        index: usize,
    },
    /// A key without `kid` (the IG requires one on every key).
    #[error("key {index} has no \"kid\"")]
    MissingKid {
        /// The key's position in `keys`, from 0.
        index: usize,
    },
    /// A key carrying private or symmetric key material.
    #[error("key \"{kid}\" holds private key material (\"{member}\"): register only public keys")]
    PrivateMember {
        /// The key's `kid`.
        kid: String,
        /// The private member found.
        member: &'static str,
    },
    /// A key whose members do not make a key.
    #[error("key \"{kid}\" is malformed: {problem}")]
    Malformed {
        /// The key's `kid`.
        kid: String,
        /// What is wrong.
        problem: String,
    },
    /// Two keys of one type share a `kid`, so an assertion could not say which.
    #[error("two {kty} keys have the kid \"{kid}\"")]
    DuplicateKid {
        /// The shared `kid`.
        kid: String,
        /// Their `kty`.
        kty: String,
    },
    /// No key this server can verify with.
    #[error(
        "no key usable for RS384 (RSA, {MIN_RSA_BITS} to {MAX_RSA_BITS} bits) or ES384 \
         (EC, curve P-384) with \"use\" sig and \"key_ops\" verify if given"
    )]
    NoUsableKey,
}

impl KeySet {
    /// Parses and checks a JWKS: a JSON object with a `keys` array, every
    /// key with `kty` and `kid`, no private members, and at least one key
    /// usable for RS384 (RSA of [`MIN_RSA_BITS`] to [`MAX_RSA_BITS`] bits)
    /// or ES384 (EC on P-384).
    pub fn parse(json: &str) -> Result<Self, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| JwksError::NotJson(e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| JwksError::NotJson("expected a JSON object".to_owned()))?;
        let entries = object
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError::NoKeys)?;
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut keys = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let jwk = entry.as_object().ok_or(JwksError::MissingKty { index })?;
            let kty = string_member(jwk, "kty").ok_or(JwksError::MissingKty { index })?;
            let kid = string_member(jwk, "kid")
                .filter(|kid| !kid.is_empty())
                .ok_or(JwksError::MissingKid { index })?;
            if let Some(member) = PRIVATE_MEMBERS.into_iter().find(|m| jwk.contains_key(*m)) {
                return Err(JwksError::PrivateMember {
                    kid: kid.to_owned(),
                    member,
                });
            }
            let pair = (kty.to_owned(), kid.to_owned());
            if seen.contains(&pair) {
                return Err(JwksError::DuplicateKid {
                    kid: pair.1,
                    kty: pair.0,
                });
            }
            seen.push(pair);
            if let Some(key) = usable_key(kty, kid, jwk)? {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid` that verifies `alg` (its `kty` consistent
    /// with `alg`), if the set has one.
    pub fn find(&self, kid: &str, alg: SigningAlg) -> Option<&ClientKey> {
        self.keys.iter().find(|k| k.kid == kid && k.alg == alg)
    }

    /// Whether the set has a key with this `kid` (for any algorithm).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// The usable keys.
    pub fn keys(&self) -> &[ClientKey] {
        &self.keys
    }
}

fn string_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// The verification key a JWK makes, when it is one we can use: `None` for
/// keys of other types, curves or sizes, or whose `alg`, `use` or
/// `key_ops` say they are not for RS384/ES384 signatures.
fn usable_key(
    kty: &str,
    kid: &str,
    jwk: &Map<String, Value>,
) -> Result<Option<ClientKey>, JwksError> {
    let malformed = |problem: &str| JwksError::Malformed {
        kid: kid.to_owned(),
        problem: problem.to_owned(),
    };
    let alg = match kty {
        "RSA" => {
            let n = string_member(jwk, "n").ok_or_else(|| malformed("no \"n\""))?;
            let e = string_member(jwk, "e").ok_or_else(|| malformed("no \"e\""))?;
            let modulus = base64url(n).ok_or_else(|| malformed("\"n\" is not base64url"))?;
            let exponent = base64url(e).ok_or_else(|| malformed("\"e\" is not base64url"))?;
            if exponent.iter().all(|b| *b == 0) {
                return Err(malformed("\"e\" is zero"));
            }
            let bits = bit_length(&modulus);
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Ok(None);
            }
            SigningAlg::Rs384
        }
        "EC" => {
            if string_member(jwk, "crv") != Some("P-384") {
                return Ok(None);
            }
            let x = string_member(jwk, "x").ok_or_else(|| malformed("no \"x\""))?;
            let y = string_member(jwk, "y").ok_or_else(|| malformed("no \"y\""))?;
            let (x, y) = match (base64url(x), base64url(y)) {
                (Some(x), Some(y)) if x.len() == 48 && y.len() == 48 => (x, y),
                _ => return Err(malformed("\"x\" and \"y\" must be 48 bytes of base64url")),
            };
            let mut point = Vec::with_capacity(97);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            if p384::PublicKey::from_sec1_bytes(&point).is_err() {
                return Err(malformed("the point is not on curve P-384"));
            }
            SigningAlg::Es384
        }
        _ => return Ok(None),
    };
    if string_member(jwk, "alg").is_some_and(|a| a != alg.as_str())
        || string_member(jwk, "use").is_some_and(|u| u != "sig")
    {
        return Ok(None);
    }
    if let Some(ops) = jwk.get("key_ops")
        && !ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"))
    {
        return Ok(None);
    }
    let key = match alg {
        SigningAlg::Rs384 => DecodingKey::from_rsa_components(
            string_member(jwk, "n").unwrap_or_default(),
            string_member(jwk, "e").unwrap_or_default(),
        ),
        SigningAlg::Es384 => DecodingKey::from_ec_components(
            string_member(jwk, "x").unwrap_or_default(),
            string_member(jwk, "y").unwrap_or_default(),
        ),
    }
    .map_err(|e| malformed(&e.to_string()))?;
    Ok(Some(ClientKey {
        kid: kid.to_owned(),
        alg,
        key,
    }))
}

/// Base64url without padding, as JWK members are written (padding, which
/// some writers add, is tolerated).
fn base64url(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

/// The bit length of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let significant: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    (significant.len() - 1) * 8 + (8 - significant[0].leading_zeros() as usize)
}

/// Checks the JWKS URL an administrator registers: an absolute `https://`
/// (or, for local testing, `http://`) URL with a host and no fragment.
/// Returns it as given.
pub fn check_jwks_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("expected an https:// (or http://) URL".to_owned());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL may not carry a fragment or credentials".to_owned());
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A valid P-384 public key's `x` and `y`, as JWK members.
    fn ec_members() -> (String, String) {
        let secret = p384::SecretKey::from_slice(&[7u8; 48]).expect("scalar");
        let point = p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &secret.public_key(),
            false,
        );
        let enc = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        (enc(point.x().expect("x")), enc(point.y().expect("y")))
    }

    fn ec_key(kid: &str) -> Value {
        let (x, y) = ec_members();
        json!({"kty": "EC", "crv": "P-384", "kid": kid, "x": x, "y": y})
    }

    fn rsa_key(kid: &str, bits: usize) -> Value {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0x80 | 0x01;
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n);
        json!({"kty": "RSA", "kid": kid, "n": n, "e": "AQAB"})
    }

    fn parse(value: Value) -> Result<KeySet, JwksError> {
        KeySet::parse(&value.to_string())
    }

    #[test]
    fn usable_keys_are_found_by_kid_and_algorithm() {
        let set = parse(json!({"keys": [
            ec_key("ec"),
            rsa_key("rsa", 2048),
            rsa_key("small", 1024),
            {"kty": "EC", "crv": "P-256", "kid": "p256", "x": "AA", "y": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"},
        ]}))
        .expect("valid");
        assert_eq!(set.keys().len(), 2);
        assert!(set.find("ec", SigningAlg::Es384).is_some());
        assert!(set.find("ec", SigningAlg::Rs384).is_none());
        assert!(set.find("rsa", SigningAlg::Rs384).is_some());
        assert!(set.find("small", SigningAlg::Rs384).is_none());
        assert!(set.has_kid("rsa") && !set.has_kid("p256"));
    }

    #[test]
    fn alg_use_and_key_ops_narrow_a_key() {
        let with = |extra: Value| {
            let mut key = ec_key("k");
            for (name, value) in extra.as_object().expect("object") {
                key[name] = value.clone();
            }
            parse(json!({"keys": [key]}))
        };
        assert!(with(json!({"alg": "ES384", "use": "sig", "key_ops": ["verify"]})).is_ok());
        for refused in [
            json!({"alg": "ES256"}),
            json!({"use": "enc"}),
            json!({"key_ops": ["encrypt"]}),
            json!({"key_ops": "verify"}),
        ] {
            assert_eq!(
                with(refused.clone()).err(),
                Some(JwksError::NoUsableKey),
                "{refused}"
            );
        }
    }

    #[test]
    fn each_refusal_names_its_problem() {
        let cases: Vec<(String, &str)> =
            vec![
            ("[1]".to_owned(), "not a JWKS: expected a JSON object"),
            ("{}".to_owned(), "not a JWKS: it has no \"keys\" array"),
            (json!({"keys": [{"kid": "a"}]}).to_string(), "key 0 has no \"kty\""),
            (
                json!({"keys": [ec_key("a"), {"kty": "EC"}]}).to_string(),
                "key 1 has no \"kid\"",
            ),
            (
                json!({"keys": [{"kty": "EC", "kid": "a", "d": "x"}]}).to_string(),
                "key \"a\" holds private key material (\"d\"): register only public keys",
            ),
            (
                json!({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}).to_string(),
                "key \"h\" holds private key material (\"k\"): register only public keys",
            ),
            (
                json!({"keys": [{"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}]}).to_string(),
                "key \"r\" is malformed: \"n\" is not base64url",
            ),
            (
                json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": "e", "x": "AA", "y": "AA"}]})
                    .to_string(),
                "key \"e\" is malformed: \"x\" and \"y\" must be 48 bytes of base64url",
            ),
            (
                json!({"keys": [ec_key("a"), ec_key("a")]}).to_string(),
                "two EC keys have the kid \"a\"",
            ),
            (
                json!({"keys": [rsa_key("small", 1024)]}).to_string(),
                "no key usable for RS384 (RSA, 2048 to 4096 bits) or ES384 (EC, curve P-384) \
                 with \"use\" sig and \"key_ops\" verify if given",
            ),
        ];
        for (jwks, message) in cases {
            let error = KeySet::parse(&jwks).expect_err(&jwks);
            assert_eq!(error.to_string(), message, "{jwks}");
            assert!(!error.to_string().contains('\n'));
        }
        assert!(
            KeySet::parse("not json")
                .expect_err("refused")
                .to_string()
                .starts_with("not a JWKS: ")
        );
        assert_eq!(
            KeySet::parse(&" ".repeat(MAX_JWKS_BYTES + 1)).err(),
            Some(JwksError::TooLarge)
        );
    }

    #[test]
    fn a_point_off_the_curve_is_malformed() {
        let (x, _) = ec_members();
        let y = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 48]);
        let error =
            parse(json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": "e", "x": x, "y": y}]}))
                .expect_err("refused");
        assert_eq!(
            error.to_string(),
            "key \"e\" is malformed: the point is not on curve P-384"
        );
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0, 1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0, 0x7f, 0]), 15);
    }

    #[test]
    fn jwks_urls() {
        assert!(check_jwks_url("https://client.example.org/.well-known/jwks.json").is_ok());
        assert!(check_jwks_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_jwks_url("ftp://x/jwks").is_err());
        assert!(check_jwks_url("jwks.json").is_err());
        assert!(check_jwks_url("https://u:p@x/jwks").is_err());
        assert!(check_jwks_url("https://x/jwks#k").is_err());
    }
}
