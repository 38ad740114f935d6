//! An ES384 (P-384) key pair for a SMART Backend Services client: made
//! from the operating system's randomness, written as a JWKS holding the
//! private JWK (the form SMART clients such as smart-fetch read: `kty`,
//! `crv`, `x`, `y`, `d`, `kid`, `alg` ES384, `key_ops` sign) and as a
//! PKCS#8 PEM, and its public half as the JWKS to register. The sandbox
//! makes one for A9994, so a SMART client can be pointed at it at once.

use base64::Engine;
use p384::elliptic_curve::sec1::ToEncodedPoint;
use p384::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::keys::{KeyError, random_bytes};

/// A client's ES384 key pair.
#[derive(Clone)]
pub struct ClientKeyPair {
    secret: p384::SecretKey,
    kid: String,
}

impl std::fmt::Debug for ClientKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeyPair")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl ClientKeyPair {
    /// A new key pair; its `kid` is the public key's JWK thumbprint
    /// (RFC 7638), so it names the key wherever it is registered.
    pub fn generate() -> Result<Self, KeyError> {
        // A uniformly random 384-bit string is a valid scalar unless it is
        // zero or at least the group order (a chance of about 2^-190).
        loop {
            let bytes = random_bytes::<48>()?;
            if let Ok(secret) = p384::SecretKey::from_slice(&bytes) {
                let kid = thumbprint(&secret.public_key());
                return Ok(Self { secret, kid });
            }
        }
    }

    /// Reads back a key pair written by [`ClientKeyPair::private_jwks`]:
    /// the JWKS's P-384 key with a `d`, checked against its `x` and `y`.
    pub fn from_private_jwks(json: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let key = value["keys"]
            .as_array()
            .and_then(|keys| {
                keys.iter()
                    .find(|k| k["kty"] == "EC" && k["crv"] == "P-384" && k["d"].is_string())
            })
            .ok_or("no P-384 private key in it")?;
        let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key["d"].as_str().unwrap_or_default())
            .map_err(|_| "its \"d\" is not base64url")?;
        let secret = p384::SecretKey::from_slice(&d).map_err(|_| "its \"d\" is not a P-384 key")?;
        let pair = Self {
            kid: key["kid"]
                .as_str()
                .map_or_else(|| thumbprint(&secret.public_key()), str::to_owned),
            secret,
        };
        let public = pair.public_jwk();
        if key["x"] != public["x"] || key["y"] != public["y"] {
            return Err("its \"x\" and \"y\" are not the public key of its \"d\"".to_owned());
        }
        Ok(pair)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn coordinates(&self) -> (String, String) {
        coordinates(&self.secret.public_key())
    }

    /// The public JWK, for verifying.
    pub fn public_jwk(&self) -> Value {
        let (x, y) = self.coordinates();
        json!({
            "kty": "EC",
            "crv": "P-384",
            "x": x,
            "y": y,
            "kid": self.kid,
            "alg": "ES384",
            "key_ops": ["verify"],
        })
    }

    /// The JWKS to register: the public key only.
    pub fn public_jwks(&self) -> String {
        json!({ "keys": [self.public_jwk()] }).to_string()
    }

    /// The JWKS holding the private JWK (keep it secret), pretty-printed.
    pub fn private_jwks(&self) -> String {
        let (x, y) = self.coordinates();
        let jwks = json!({ "keys": [{
            "kty": "EC",
            "crv": "P-384",
            "x": x,
            "y": y,
            "d": b64(&self.secret.to_bytes()),
            "kid": self.kid,
            "alg": "ES384",
            "key_ops": ["sign"],
        }]});
        serde_json::to_string_pretty(&jwks).unwrap_or_default()
    }

    /// The private key as PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn private_key_pem(&self) -> Result<String, KeyError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| KeyError::Unusable {
                kid: self.kid.clone(),
                message: e.to_string(),
            })
    }
}

/// A public key's `x` and `y`, base64url.
fn coordinates(public: &p384::PublicKey) -> (String, String) {
    let point = public.to_encoded_point(false);
    let member = |c: Option<&p384::FieldBytes>| c.map_or_else(String::new, |c| b64(&c[..]));
    (member(point.x()), member(point.y()))
}

/// The RFC 7638 thumbprint of a P-384 public key: SHA-256 over its
/// required members in lexicographic order, base64url.
fn thumbprint(public: &p384::PublicKey) -> String {
    let (x, y) = coordinates(public);
    let canonical = format!(r#"{{"crv":"P-384","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64(&Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwks::{KeySet, SigningAlg};

    #[test]
    fn a_pair_round_trips_and_its_public_half_registers() {
        let pair = ClientKeyPair::generate().expect("random");
        assert_eq!(pair.kid().len(), 43, "a base64url SHA-256");
        let private = pair.private_jwks();
        let read = ClientKeyPair::from_private_jwks(&private).expect("read back");
        assert_eq!(read.kid(), pair.kid());
        assert_eq!(read.public_jwks(), pair.public_jwks());
        let key: Value = serde_json::from_str(&private).expect("json");
        let key = &key["keys"][0];
        for member in ["kty", "crv", "x", "y", "d", "kid", "alg", "key_ops"] {
            assert!(!key[member].is_null(), "{member}");
        }
        assert_eq!(key["key_ops"], json!(["sign"]));
        // The private JWKS is refused for registration; the public one is
        // accepted.
        assert!(KeySet::parse(&private).is_err());
        let set = KeySet::parse(&pair.public_jwks()).expect("public");
        assert!(set.find(pair.kid(), SigningAlg::Es384).is_some());
        assert!(
            pair.private_key_pem()
                .expect("pem")
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert!(!format!("{pair:?}").contains(key["d"].as_str().expect("d")));
    }

    #[test]
    fn a_tampered_file_is_refused() {
        let pair = ClientKeyPair::generate().expect("random");
        let other = ClientKeyPair::generate().expect("random");
        let mut value: Value = serde_json::from_str(&pair.private_jwks()).expect("json");
        value["keys"][0]["x"] = other.public_jwk()["x"].clone();
        assert!(ClientKeyPair::from_private_jwks(&value.to_string()).is_err());
        assert!(ClientKeyPair::from_private_jwks(&pair.public_jwks()).is_err());
        assert!(ClientKeyPair::from_private_jwks("{").is_err());
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 §3.1's method over a known key: the canonical JSON's
        // member order and the absence of whitespace are what matter.
        let pair = ClientKeyPair::generate().expect("random");
        let jwk = pair.public_jwk();
        let canonical = format!(
            r#"{{"crv":"P-384","kty":"EC","x":{},"y":{}}}"#,
            jwk["x"], jwk["y"]
        );
        assert_eq!(pair.kid(), b64(&Sha256::digest(canonical.as_bytes())));
    }
}
