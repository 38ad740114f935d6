//! `Range: bytes=...` (RFC 9110 §14.1.2), resolved against the length of
//! the representation being served.
//!
//! One range is served as 206. A request for several ranges gets the whole
//! file (200), which RFC 9110 §14.2 allows: resuming clients ask for one
//! range, and multipart/byteranges would buy nothing here.

/// An inclusive span of bytes, `first..=last`, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte, from 0.
    pub first: u64,
    /// The last byte (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// The whole of a representation of `length` bytes (empty for 0).
    pub fn whole(length: u64) -> Option<Self> {
        length
            .checked_sub(1)
            .map(|last| ByteRange { first: 0, last })
    }

    /// How many bytes the range covers (never 0).
    pub fn len(self) -> u64 {
        self.last - self.first + 1
    }
}

/// What a `Range` header asks of a representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// The whole representation: no usable range was asked for.
    Whole,
    /// One satisfiable range.
    Partial(ByteRange),
    /// A range that starts past the end (or asks for no bytes): 416.
    Unsatisfiable,
}

/// Resolves a `Range` value against `length`. Anything that is not one
/// well-formed `bytes` range (another unit, bad syntax, several ranges) is
/// ignored, as RFC 9110 §14.2 permits, and the whole file is served.
pub fn resolve(value: &str, length: u64) -> RangeRequest {
    let Some((unit, set)) = value.split_once('=') else {
        return RangeRequest::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Whole;
    }
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    match (specs.next(), specs.next()) {
        (Some(spec), None) => resolve_spec(spec, length),
        _ => RangeRequest::Whole,
    }
}

/// One `first-last`, `first-` or `-suffix` spec.
fn resolve_spec(spec: &str, length: u64) -> RangeRequest {
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match number(last) {
            Some(suffix) => suffix_range(suffix, length),
            None => RangeRequest::Whole,
        };
    }
    let Some(first) = number(first) else {
        return RangeRequest::Whole;
    };
    let last = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(last) if last >= first => Some(last),
            // `5-2` or `5-x` is invalid syntax, not an unsatisfiable range.
            _ => return RangeRequest::Whole,
        }
    };
    if first >= length {
        return RangeRequest::Unsatisfiable;
    }
    let end = length - 1;
    RangeRequest::Partial(ByteRange {
        first,
        last: last.map_or(end, |last| last.min(end)),
    })
}

/// `-n`: the last `n` bytes, or all of them when there are fewer.
fn suffix_range(suffix: u64, length: u64) -> RangeRequest {
    if suffix == 0 || length == 0 {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(ByteRange {
        first: length.saturating_sub(suffix),
        last: length - 1,
    })
}

/// `1*DIGIT`. A number too large for u64 is treated as bad syntax.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(first: u64, last: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { first, last })
    }

    #[test]
    fn single_ranges() {
        assert_eq!(resolve("bytes=0-499", 1000), partial(0, 499));
        assert_eq!(resolve("bytes=500-", 1000), partial(500, 999));
        assert_eq!(resolve("bytes=-200", 1000), partial(800, 999));
        assert_eq!(resolve("Bytes = 10-10", 1000), partial(10, 10));
        assert_eq!(resolve("bytes=900-5000", 1000), partial(900, 999));
        assert_eq!(resolve("bytes=-5000", 1000), partial(0, 999));
        assert_eq!(resolve("bytes=0-", 1000), partial(0, 999));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(resolve("bytes=1000-", 1000), RangeRequest::Unsatisfiable);
        assert_eq!(
            resolve("bytes=1000-2000", 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(resolve("bytes=-0", 1000), RangeRequest::Unsatisfiable);
        assert_eq!(resolve("bytes=0-", 0), RangeRequest::Unsatisfiable);
        assert_eq!(resolve("bytes=-1", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn ignored_ranges_serve_the_whole_file() {
        for value in [
            "",
            "bytes",
            "items=0-1",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=0-1,5-6",
            "bytes=0-1, -1",
            "bytes=99999999999999999999-",
            "bytes=+1-2",
        ] {
            assert_eq!(resolve(value, 1000), RangeRequest::Whole, "{value:?}");
        }
    }

    #[test]
    fn whole_and_len() {
        assert_eq!(ByteRange::whole(0), None);
        assert_eq!(ByteRange::whole(10), Some(ByteRange { first: 0, last: 9 }));
        assert_eq!(ByteRange { first: 3, last: 3 }.len(), 1);
    }
}
