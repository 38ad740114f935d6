//! Conditional requests (RFC 9110 §13): `If-None-Match`, `If-Modified-Since`
//! and `If-Range`, evaluated against the one representation being served.
//!
//! `If-Match` and `If-Unmodified-Since` are not evaluated: they guard
//! state-changing requests, and a 412 has no place in this API's errors.

use axum::http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE};
use axum::http::{HeaderMap, HeaderName};
use time::OffsetDateTime;

use crate::http::http_date;

/// What the validators of a representation are.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The opaque part of the strong entity tag (without quotes).
    pub etag: &'a str,
    /// `Last-Modified`, whole seconds.
    pub last_modified: OffsetDateTime,
}

/// An entity tag as received.
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// Whether the client's copy is current, so the answer is 304: RFC 9110
/// §13.2.2 steps 3 and 4. `If-Modified-Since` counts only without
/// `If-None-Match`, and a date in the future is no date at all.
pub fn not_modified(headers: &HeaderMap, validators: Validators<'_>, now: OffsetDateTime) -> bool {
    if headers.contains_key(IF_NONE_MATCH) {
        return none_match_fails(headers, validators.etag);
    }
    single_value(headers, &IF_MODIFIED_SINCE)
        .and_then(http_date::parse)
        .is_some_and(|since| since <= now && validators.last_modified <= since)
}

/// Whether a `Range` may be honoured: there is no `If-Range`, or it names
/// this representation (strong comparison for a tag, the exact second for a
/// date). Anything else, including a value we cannot read, means the client
/// holds something else, so it gets the whole file.
pub fn range_allowed(headers: &HeaderMap, validators: Validators<'_>) -> bool {
    if !headers.contains_key(IF_RANGE) {
        return true;
    }
    let Some(value) = single_value(headers, &IF_RANGE).map(str::trim) else {
        return false;
    };
    if value.starts_with('"') || value.starts_with("W/") {
        return matches!(
            entity_tags(value).as_deref(),
            Some([tag]) if !tag.weak && tag.opaque == validators.etag
        );
    }
    http_date::parse(value) == Some(validators.last_modified)
}

/// `If-None-Match` evaluates to false (the client has it): `*`, or any
/// listed tag equal to ours under the weak comparison (RFC 9110 §13.1.2).
/// A malformed field is ignored: the condition holds and the file is sent.
fn none_match_fails(headers: &HeaderMap, etag: &str) -> bool {
    let mut tags = Vec::new();
    for value in headers.get_all(IF_NONE_MATCH) {
        let Some(value) = value.to_str().ok().map(str::trim) else {
            return false;
        };
        if value == "*" {
            return true;
        }
        match entity_tags(value) {
            Some(parsed) => tags.extend(parsed),
            None => return false,
        }
    }
    tags.iter().any(|tag| tag.opaque == etag)
}

/// The value of a header that must appear once, as text.
fn single_value<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// `#entity-tag`: a comma-separated list of `[W/]"opaque"`. Commas may sit
/// inside the quotes, so the list is scanned rather than split.
fn entity_tags(value: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = value.trim_start_matches([' ', '\t', ',']);
    while !rest.is_empty() {
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        let body = quoted.strip_prefix('"')?;
        let end = body.find('"')?;
        tags.push(EntityTag {
            weak,
            opaque: &body[..end],
        });
        rest = body[end + 1..].trim_start_matches([' ', '\t']);
        // Tags are separated by commas; anything else after a tag is garbage.
        if !rest.is_empty() {
            rest = rest.strip_prefix(',')?.trim_start_matches([' ', '\t', ',']);
        }
    }
    (!tags.is_empty()).then_some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    const MODIFIED: OffsetDateTime = datetime!(2026-03-02 12:00:00 UTC);
    const NOW: OffsetDateTime = datetime!(2026-03-02 13:00:00 UTC);
    const VALIDATORS: Validators<'static> = Validators {
        etag: "abc",
        last_modified: MODIFIED,
    };

    fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    fn not_modified_for(pairs: &[(HeaderName, &str)]) -> bool {
        not_modified(&headers(pairs), VALIDATORS, NOW)
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert!(not_modified_for(&[(IF_NONE_MATCH, "\"abc\"")]));
        assert!(not_modified_for(&[(IF_NONE_MATCH, "W/\"abc\"")]));
        assert!(not_modified_for(&[(IF_NONE_MATCH, "*")]));
        assert!(not_modified_for(&[(IF_NONE_MATCH, "\"x\", \"abc\"")]));
        assert!(not_modified_for(&[(IF_NONE_MATCH, "\"x,y\",W/\"abc\"")]));
        assert!(not_modified_for(&[
            (IF_NONE_MATCH, "\"x\""),
            (IF_NONE_MATCH, "\"abc\"")
        ]));
        assert!(!not_modified_for(&[(IF_NONE_MATCH, "\"abc-gzip\"")]));
        assert!(!not_modified_for(&[(IF_NONE_MATCH, "abc")]));
        assert!(!not_modified_for(&[(IF_NONE_MATCH, "\"abc\" junk")]));
        assert!(!not_modified_for(&[(IF_NONE_MATCH, "\"abc")]));
    }

    #[test]
    fn if_modified_since_only_without_if_none_match() {
        let at = "Mon, 02 Mar 2026 12:00:00 GMT";
        let before = "Mon, 02 Mar 2026 11:59:59 GMT";
        let future = "Mon, 02 Mar 2026 14:00:00 GMT";
        assert!(not_modified_for(&[(IF_MODIFIED_SINCE, at)]));
        assert!(!not_modified_for(&[(IF_MODIFIED_SINCE, before)]));
        assert!(!not_modified_for(&[(IF_MODIFIED_SINCE, future)]));
        assert!(!not_modified_for(&[(IF_MODIFIED_SINCE, "yesterday")]));
        assert!(!not_modified_for(&[
            (IF_NONE_MATCH, "\"x\""),
            (IF_MODIFIED_SINCE, at)
        ]));
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let allowed = |value: &str| range_allowed(&headers(&[(IF_RANGE, value)]), VALIDATORS);
        assert!(range_allowed(&HeaderMap::new(), VALIDATORS));
        assert!(allowed("\"abc\""));
        assert!(allowed("Mon, 02 Mar 2026 12:00:00 GMT"));
        assert!(!allowed("W/\"abc\""));
        assert!(!allowed("\"abc-gzip\""));
        assert!(!allowed("\"abc\", \"x\""));
        assert!(!allowed("Mon, 02 Mar 2026 12:00:01 GMT"));
        assert!(!allowed("garbage"));
    }
}
