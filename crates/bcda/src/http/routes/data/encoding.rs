//! Content negotiation on `Accept-Encoding` (RFC 9110 §12.5.3): should the
//! stored gzip bytes be sent as they are, or decompressed?

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_ENCODING;

/// A quality value in thousandths (`q=0.5` is 500); 1000 when absent.
type Quality = u16;

/// `q=1`, the default.
const FULL: Quality = 1000;

/// The best quality given to each coding that matters here.
#[derive(Debug, Default)]
struct Preferences {
    gzip: Option<Quality>,
    identity: Option<Quality>,
    any: Option<Quality>,
}

/// Whether to answer with the gzip form: the client accepts gzip (named, or
/// through `*`) with a quality above zero, and does not give identity (by
/// name or through `*`) a higher one. An unnamed identity is only the
/// fallback (RFC 9110 makes it acceptable, not preferred), and ties go to
/// gzip, which saves the bandwidth and the server's inflating.
///
/// No `Accept-Encoding` at all gets identity: RFC 9110 would allow any coding,
/// but BCDA clients that never asked for gzip expect plain NDJSON.
pub fn prefers_gzip(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(ACCEPT_ENCODING).iter().peekable();
    if values.peek().is_none() {
        return false;
    }
    let mut preferences = Preferences::default();
    // A value that is not visible ASCII says nothing we can read; skip it.
    for element in values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        if let Some((coding, quality)) = parse_element(element) {
            preferences.record(&coding, quality);
        }
    }
    preferences.prefers_gzip()
}

impl Preferences {
    fn record(&mut self, coding: &str, quality: Quality) {
        let slot = match coding {
            "gzip" | "x-gzip" => &mut self.gzip,
            "identity" => &mut self.identity,
            "*" => &mut self.any,
            _ => return,
        };
        // A coding listed twice counts with its best quality.
        *slot = Some(slot.map_or(quality, |q| q.max(quality)));
    }

    fn prefers_gzip(&self) -> bool {
        let gzip = self.gzip.or(self.any).unwrap_or(0);
        let identity = self.identity.or(self.any).unwrap_or(0);
        gzip > 0 && gzip >= identity
    }
}

/// One list element, `coding *( OWS ";" OWS parameter )`: the coding in
/// lowercase and its quality. `None` for an empty or unreadable element.
fn parse_element(element: &str) -> Option<(String, Quality)> {
    let mut parts = element.split(';');
    let coding = parts.next()?.trim().to_ascii_lowercase();
    if coding.is_empty() {
        return None;
    }
    let mut quality = FULL;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_quality(value.trim())?;
        }
    }
    Some((coding, quality))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_quality(value: &str) -> Option<Quality> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |acc, digit| acc * 10 + Quality::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(FULL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn gzip_for(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                ACCEPT_ENCODING,
                HeaderValue::from_str(value).expect("value"),
            );
        }
        prefers_gzip(&headers)
    }

    #[test]
    fn gzip_when_named_or_wildcarded() {
        assert!(gzip_for(&["gzip"]));
        assert!(gzip_for(&["GZIP"]));
        assert!(gzip_for(&["x-gzip"]));
        assert!(gzip_for(&["gzip, deflate, br"]));
        assert!(gzip_for(&["br", "gzip;q=0.1"]));
        assert!(gzip_for(&["*"]));
        assert!(gzip_for(&["gzip ; q=1.000"]));
        assert!(gzip_for(&["gzip;q=0.5, identity;q=0.5"]));
    }

    #[test]
    fn identity_when_gzip_is_absent_refused_or_worse() {
        assert!(!gzip_for(&[]));
        assert!(!gzip_for(&[""]));
        assert!(!gzip_for(&["identity"]));
        assert!(!gzip_for(&["br, deflate"]));
        assert!(!gzip_for(&["gzip;q=0"]));
        assert!(!gzip_for(&["gzip;q=0.000, *"]));
        assert!(!gzip_for(&["*;q=0"]));
        assert!(!gzip_for(&["gzip;q=0.5, identity"]));
        assert!(!gzip_for(&["*;q=0.5, identity"]));
    }

    #[test]
    fn malformed_qualities_drop_the_element() {
        assert!(!gzip_for(&["gzip;q=2"]));
        assert!(!gzip_for(&["gzip;q=0.5555"]));
        assert!(!gzip_for(&["gzip;q=1.5"]));
        assert!(!gzip_for(&["gzip;q="]));
        assert!(!gzip_for(&["gzip;q"]));
        assert!(gzip_for(&["gzip;q=abc, *"]));
    }

    #[test]
    fn qualities() {
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("0."), Some(0));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.25"), Some(250));
        assert_eq!(parse_quality("0.001"), Some(1));
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.0"), Some(1000));
        assert_eq!(parse_quality("1.001"), None);
        assert_eq!(parse_quality(".5"), None);
        assert_eq!(parse_quality("-0"), None);
    }
}
