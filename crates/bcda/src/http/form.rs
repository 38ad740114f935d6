//! `application/x-www-form-urlencoded` bodies, as OAuth token requests are
//! sent: the media type test and the parameters in order, repeats kept (so
//! the token endpoint can refuse a repeated parameter, RFC 6749 §3.2).

use axum::http::{HeaderMap, header};

/// Whether the request says its body is a URL-encoded form (parameters
/// such as `charset` aside).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A body that is not a well-formed URL-encoded form (a bad `%` escape, or
/// not UTF-8 once decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedForm;

/// The `name=value` pairs of a URL-encoded body, in order: `+` is a space,
/// `%XX` a byte, a pair without `=` has an empty value, empty pairs are
/// skipped.
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, MalformedForm> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

fn decode(text: &[u8]) -> Result<String, MalformedForm> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                match (hex(bytes.next()), hex(bytes.next())) {
                    (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
                    _ => return Err(MalformedForm),
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| MalformedForm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn pairs(body: &str) -> Vec<(String, String)> {
        parse(body.as_bytes()).expect("well-formed")
    }

    #[test]
    fn pairs_in_order_with_repeats() {
        assert_eq!(
            pairs("a=1&b=x+y%2Fz&a=2&&flag&empty="),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y/z".into()),
                ("a".into(), "2".into()),
                ("flag".into(), String::new()),
                ("empty".into(), String::new()),
            ]
        );
        assert_eq!(pairs(""), vec![]);
        assert_eq!(pairs("k%3D=v%3d%C3%A9"), vec![("k=".into(), "v=é".into())]);
        assert_eq!(pairs("a=b=c"), vec![("a".into(), "b=c".into())]);
    }

    #[test]
    fn malformed_bodies() {
        for body in ["a=%", "a=%4", "a=%zz", "a=%FF"] {
            assert_eq!(parse(body.as_bytes()), Err(MalformedForm), "{body}");
        }
    }

    #[test]
    fn form_media_types() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            is_form(&headers)
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(!with("application/json"));
        assert!(!with("multipart/form-data"));
        assert!(!is_form(&HeaderMap::new()));
    }
}
