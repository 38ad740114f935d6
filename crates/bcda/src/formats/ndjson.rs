//! NDJSON as the Beneficiary FHIR Data server writes it: one resource per
//! line. Only the framing lives here (lines, bounded); what a line must
//! hold is the resource importer's business.

use std::io::BufRead;

use super::FormatError;
use super::fixed::LineReader;

/// The longest line (one FHIR resource) accepted: 16 MiB.
///
/// BCDA's sandbox has about 380 KB of ExplanationOfBenefit data for one
/// synthetic beneficiary's whole history, and a single claim, even an
/// inpatient stay with every line item BFD carries, is a small fraction of
/// that; 16 MiB is tens of times the largest resource we know of, while a
/// file that is one endless line (a corrupt or hostile file) fails after
/// 16 MiB instead of exhausting memory.
pub const MAX_RESOURCE_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Reads NDJSON lines one at a time into a reused buffer, refusing a line
/// over the limit with its line number.
pub struct NdjsonLines<R> {
    lines: LineReader<R>,
    max_len: usize,
}

impl<R: BufRead> NdjsonLines<R> {
    /// Lines of at most [`MAX_RESOURCE_LINE_BYTES`].
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, MAX_RESOURCE_LINE_BYTES)
    }

    /// Lines of at most `max_len` bytes (terminator excluded).
    pub fn with_limit(reader: R, max_len: usize) -> Self {
        Self {
            lines: LineReader::new(reader, max_len),
            max_len,
        }
    }

    /// The next line without its terminator, with its 1-based number;
    /// `None` at the end. Blank lines are returned too (as empty slices) so
    /// numbers stay true.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, FormatError> {
        let max_len = self.max_len;
        match self.lines.next_line() {
            Ok(Some((number, bytes))) if bytes.len() > max_len => Err(too_long(number, max_len)),
            Ok(other) => Ok(other),
            Err(FormatError::Invalid {
                line, field: None, ..
            }) if line > 0 => Err(too_long(line, max_len)),
            Err(e) => Err(e),
        }
    }

    /// Bytes consumed so far, for progress.
    pub fn position(&self) -> u64 {
        self.lines.position()
    }
}

fn too_long(line: u64, max_len: usize) -> FormatError {
    FormatError::line(
        line,
        format!(
            "line is longer than {max_len} bytes ({}), the limit for one resource",
            human_size(max_len)
        ),
    )
}

fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn lines_with_numbers_and_blank_lines_kept() {
        let mut r = NdjsonLines::with_limit(&b"{\"a\":1}\r\n\n{}"[..], 16);
        assert_eq!(r.next_line().expect("ok"), Some((1, &b"{\"a\":1}"[..])));
        assert_eq!(r.next_line().expect("ok"), Some((2, &b""[..])));
        assert_eq!(r.next_line().expect("ok"), Some((3, &b"{}"[..])));
        assert_eq!(r.next_line().expect("ok"), None);
        assert_eq!(r.position(), 12);
    }

    #[test]
    fn a_line_over_the_limit_is_an_error_naming_line_and_limit() {
        let mut data = b"{}\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend(b"\n{}\n");
        let mut r = NdjsonLines::with_limit(&data[..], 1024);
        assert!(r.next_line().expect("first").is_some());
        let e = r.next_line().expect_err("too long");
        assert_eq!(e.line_number(), 2);
        assert_eq!(
            e.to_string(),
            "line 2: line is longer than 1024 bytes (1 KiB), the limit for one resource"
        );
        // Exactly at the limit is fine, with either terminator.
        for end in [&b"\n"[..], b"\r\n", b""] {
            let mut line = vec![b'y'; 1024];
            line.extend(end);
            let mut r = NdjsonLines::with_limit(&line[..], 1024);
            assert_eq!(
                r.next_line().expect("at limit").map(|(_, l)| l.len()),
                Some(1024)
            );
        }
        let mut r = NdjsonLines::with_limit(&[b'z'; 1025][..], 1024);
        assert!(r.next_line().is_err());
    }

    #[test]
    fn the_buffer_does_not_grow_past_the_limit() {
        // An endless line: reading stops at the limit, whatever follows.
        let endless = std::io::repeat(b'x').take(1 << 30);
        let mut r = NdjsonLines::with_limit(std::io::BufReader::new(endless), 1 << 16);
        assert!(r.next_line().is_err());
        assert!(r.position() <= (1 << 16) + 2);
    }
}
