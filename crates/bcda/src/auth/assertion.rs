//! The client assertion of SMART Backend Services: a JWT the client signs
//! with its private key to authenticate at the token endpoint.
//!
//! [`read`] checks everything that needs no key, in an order that refuses
//! a disallowed algorithm (`none`, HMAC, RS256, ...) before anything else
//! is looked at: the header (`alg` RS384 or ES384, a `kid`, `typ` JWT if
//! present, no `crit`), then the claims (`iss` = `sub`, `aud` this
//! server's token URL, `exp` present, not passed and at most five minutes
//! ahead, `iat` and `nbf` not in the future, a `jti`), all times with a
//! clock-skew tolerance. Its refusals describe the problem: they are about
//! the caller's own JWT and reveal nothing about registered clients.
//! [`verify`] then checks the signature with the key the client registered
//! under that `kid`; the claims [`read`] checked are the signed ones (the
//! signature covers the same bytes).

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::Validation;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::jwks::{ClientKey, SigningAlg};

/// The only `client_assertion_type` accepted (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How far ahead an assertion's `exp` may be (the IG's SHALL: no more than
/// five minutes).
pub const MAX_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The longest client id, key id or assertion id accepted: ours are
/// 36-character UUIDs, and bounded ids keep logs and the replay table small.
pub const MAX_ID_LEN: usize = 255;

/// What [`read`] found in an assertion that passed its checks (signature
/// not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedAssertion {
    /// The signature algorithm (header `alg`).
    pub alg: SigningAlg,
    /// The signing key's id (header `kid`).
    pub kid: String,
    /// The header's `jku` (where the client says its keys are), if given.
    pub jku: Option<String>,
    /// The client id: `iss`, equal to `sub`.
    pub client_id: String,
    /// The assertion's id (`jti`), which may be used once.
    pub jti: String,
    /// Until when the assertion could be accepted (`exp` plus the clock-skew
    /// tolerance): how long its `jti` must be remembered.
    pub usable_until: OffsetDateTime,
}

/// Why an assertion was refused: a description for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse(description: impl Into<String>) -> Refusal {
    Refusal(description.into())
}

/// Checks the header and claims of `assertion` for the token endpoint at
/// `token_url`, at `now`, allowing `skew` of clock difference.
pub fn read(
    assertion: &str,
    token_url: &str,
    now: OffsetDateTime,
    skew: Duration,
) -> Result<UnverifiedAssertion, Refusal> {
    let mut parts = assertion.split('.');
    let (Some(header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse("The client assertion is not a signed JWT."));
    };
    let header = json_part(header)
        .ok_or_else(|| refuse("The client assertion's header is not base64url-encoded JSON."))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("The client assertion's header has no alg."))?;
    let alg = SigningAlg::parse(alg).ok_or_else(|| {
        refuse(format!(
            "The client assertion's alg {:?} is not accepted: sign it with RS384 or ES384.",
            shorten(alg)
        ))
    })?;
    if header.contains_key("crit") {
        return Err(refuse(
            "The client assertion's header lists crit extensions, which this server does not support.",
        ));
    }
    if let Some(typ) = header.get("typ")
        && !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT"))
    {
        return Err(refuse("The client assertion's typ must be JWT."));
    }
    let kid = id_member(&header, "kid")
        .ok_or_else(|| refuse("The client assertion's header has no kid."))?;
    let jku = match header.get("jku") {
        None => None,
        Some(Value::String(jku)) => Some(jku.clone()),
        Some(_) => return Err(refuse("The client assertion's jku is not a URL.")),
    };

    let claims = json_part(claims)
        .ok_or_else(|| refuse("The client assertion's claims are not base64url-encoded JSON."))?;
    let iss = id_member(&claims, "iss")
        .ok_or_else(|| refuse("The client assertion's iss must be your client id."))?;
    if id_member(&claims, "sub").as_deref() != Some(iss.as_str()) {
        return Err(refuse(
            "The client assertion's iss and sub must both be your client id.",
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == token_url,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(token_url)),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(format!(
            "The client assertion's aud must be this server's token URL, {token_url}."
        )));
    }
    let exp =
        numeric_date(&claims, "exp")?.ok_or_else(|| refuse("The client assertion has no exp."))?;
    if now >= exp + skew {
        return Err(refuse("The client assertion has expired."));
    }
    if exp > now + MAX_LIFETIME + skew {
        return Err(refuse(
            "The client assertion's exp is more than 5 minutes ahead.",
        ));
    }
    if numeric_date(&claims, "iat")?.is_some_and(|iat| iat > now + skew) {
        return Err(refuse("The client assertion's iat is in the future."));
    }
    if numeric_date(&claims, "nbf")?.is_some_and(|nbf| nbf > now + skew) {
        return Err(refuse("The client assertion is not valid yet (nbf)."));
    }
    let jti = id_member(&claims, "jti").ok_or_else(|| {
        refuse(format!(
            "The client assertion needs a jti: a unique id of at most {MAX_ID_LEN} characters."
        ))
    })?;
    Ok(UnverifiedAssertion {
        alg,
        kid,
        jku,
        client_id: iss,
        jti,
        usable_until: exp + skew,
    })
}

/// Checks the assertion's signature with `key` (whose algorithm is the
/// header's, as [`read`] found it).
pub fn verify(assertion: &str, key: &ClientKey) -> Result<(), Refusal> {
    let mut validation = Validation::new(key.alg.algorithm());
    // The claims were checked by `read`, against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<Value>(assertion, key.decoding_key(), &validation)
        .map(|_| ())
        .map_err(|_| refuse("The client assertion's signature does not verify."))
}

/// The `iss` an assertion claims, unverified (empty when it has none): what
/// failed attempts are counted against.
pub fn claimed_issuer(assertion: &str) -> String {
    assertion
        .split('.')
        .nth(1)
        .and_then(json_part)
        .and_then(|claims| id_member(&claims, "iss"))
        .unwrap_or_default()
}

/// A JWT part: base64url (unpadded) of a JSON object.
fn json_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A non-empty string member of at most [`MAX_ID_LEN`] characters.
fn id_member(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.chars().count() <= MAX_ID_LEN)
        .map(str::to_owned)
}

/// A NumericDate claim (seconds since the epoch, possibly fractional), if
/// present.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<OffsetDateTime>, Refusal> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    });
    seconds
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .map(Some)
        .ok_or_else(|| {
            refuse(format!(
                "The client assertion's {name} is not a NumericDate (seconds since 1970)."
            ))
        })
}

/// A client-sent value, cut short for a message.
fn shorten(value: &str) -> String {
    value.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-02 12:00:00 UTC);
    const URL: &str = "https://bcda.test/auth/token";
    const SKEW: Duration = Duration::from_secs(60);

    fn segment(value: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn jwt(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", segment(&header), segment(&claims))
    }

    fn header() -> Value {
        json!({"alg": "ES384", "kid": "k1", "typ": "JWT"})
    }

    fn claims() -> Value {
        let now = NOW.unix_timestamp();
        json!({"iss": "client", "sub": "client", "aud": URL, "exp": now + 240, "iat": now, "jti": "j1"})
    }

    fn with(mut base: Value, changes: Value) -> Value {
        for (name, value) in changes.as_object().expect("object") {
            if value.is_null() {
                base.as_object_mut().expect("object").remove(name);
            } else {
                base[name] = value.clone();
            }
        }
        base
    }

    fn refusal(header: Value, claims: Value) -> String {
        read(&jwt(header, claims), URL, NOW, SKEW)
            .expect_err("refused")
            .0
    }

    #[test]
    fn a_good_assertion_is_read() {
        let read = read(&jwt(header(), claims()), URL, NOW, SKEW).expect("accepted");
        assert_eq!(
            read,
            UnverifiedAssertion {
                alg: SigningAlg::Es384,
                kid: "k1".into(),
                jku: None,
                client_id: "client".into(),
                jti: "j1".into(),
                usable_until: NOW + time::Duration::seconds(300),
            }
        );
        // An aud array, RS384, no typ, a jku, fractional times.
        let now = NOW.unix_timestamp() as f64;
        let token = jwt(
            json!({"alg": "RS384", "kid": "k2", "jku": "https://c/jwks"}),
            with(
                claims(),
                json!({"aud": ["x", URL], "exp": now + 0.5, "iat": now + 30.2}),
            ),
        );
        let read = super::read(&token, URL, NOW, SKEW).expect("accepted");
        assert_eq!(read.alg, SigningAlg::Rs384);
        assert_eq!(read.jku.as_deref(), Some("https://c/jwks"));
    }

    #[test]
    fn the_algorithm_is_checked_first() {
        for alg in ["none", "HS256", "RS256", "ES256", "PS384", "EdDSA"] {
            // Even with everything else wrong.
            let message = refusal(json!({"alg": alg}), json!({}));
            assert!(message.contains("is not accepted"), "{alg}: {message}");
        }
        assert_eq!(
            refusal(json!({"kid": "k"}), claims()),
            "The client assertion's header has no alg."
        );
    }

    #[test]
    fn header_refusals() {
        for (change, message) in [
            (
                json!({"kid": null}),
                "The client assertion's header has no kid.",
            ),
            (
                json!({"typ": "at+jwt"}),
                "The client assertion's typ must be JWT.",
            ),
            (
                json!({"crit": ["exp"]}),
                "The client assertion's header lists crit extensions, which this server does not support.",
            ),
            (
                json!({"jku": 5}),
                "The client assertion's jku is not a URL.",
            ),
        ] {
            assert_eq!(
                refusal(with(header(), change.clone()), claims()),
                message,
                "{change}"
            );
        }
        assert!(
            read(
                &jwt(with(header(), json!({"typ": "jwt"})), claims()),
                URL,
                NOW,
                SKEW
            )
            .is_ok()
        );
        for token in ["a.b", "a.b.c.d", "!!.e30.sig"] {
            assert!(read(token, URL, NOW, SKEW).is_err(), "{token}");
        }
    }

    #[test]
    fn claim_refusals() {
        let now = NOW.unix_timestamp();
        for (change, message) in [
            (
                json!({"iss": null}),
                "The client assertion's iss must be your client id.",
            ),
            (
                json!({"sub": "other"}),
                "The client assertion's iss and sub must both be your client id.",
            ),
            (
                json!({"aud": "https://elsewhere/auth/token"}),
                "The client assertion's aud must be this server's token URL, https://bcda.test/auth/token.",
            ),
            (
                json!({"aud": ["x"]}),
                "The client assertion's aud must be this server's token URL, https://bcda.test/auth/token.",
            ),
            (json!({"exp": null}), "The client assertion has no exp."),
            (
                json!({"exp": "soon"}),
                "The client assertion's exp is not a NumericDate (seconds since 1970).",
            ),
            (
                json!({"exp": now - 60}),
                "The client assertion has expired.",
            ),
            (
                json!({"exp": now + 361}),
                "The client assertion's exp is more than 5 minutes ahead.",
            ),
            (
                json!({"iat": now + 61}),
                "The client assertion's iat is in the future.",
            ),
            (
                json!({"nbf": now + 61}),
                "The client assertion is not valid yet (nbf).",
            ),
            (
                json!({"jti": null}),
                "The client assertion needs a jti: a unique id of at most 255 characters.",
            ),
            (
                json!({"jti": ""}),
                "The client assertion needs a jti: a unique id of at most 255 characters.",
            ),
            (
                json!({"jti": "x".repeat(256)}),
                "The client assertion needs a jti: a unique id of at most 255 characters.",
            ),
        ] {
            assert_eq!(
                refusal(header(), with(claims(), change.clone())),
                message,
                "{change}"
            );
        }
    }

    #[test]
    fn the_skew_tolerance_applies_both_ways() {
        let now = NOW.unix_timestamp();
        let ok =
            |changes: Value| read(&jwt(header(), with(claims(), changes)), URL, NOW, SKEW).is_ok();
        assert!(ok(json!({"exp": now - 59})));
        assert!(!ok(json!({"exp": now - 60})));
        assert!(ok(json!({"exp": now + 360})));
        assert!(ok(json!({"iat": now + 60, "nbf": now + 60})));
        let strict = read(
            &jwt(header(), with(claims(), json!({"exp": now - 1}))),
            URL,
            NOW,
            Duration::ZERO,
        );
        assert!(strict.is_err());
    }

    #[test]
    fn the_claimed_issuer_is_best_effort() {
        assert_eq!(claimed_issuer(&jwt(header(), claims())), "client");
        assert_eq!(claimed_issuer("garbage"), "");
        assert_eq!(claimed_issuer(&jwt(header(), json!({"iss": 5}))), "");
    }
}
