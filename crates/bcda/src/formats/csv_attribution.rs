//! CSV attribution files (docs/REFERENCES.md, "CSV attribution"; BCDA
//! `bcda/cclf/csv.go`):
//! newer models (TCOCMD, CDAC, GUIDE, ACCESS) deliver attribution as a CSV
//! with a header row, then one beneficiary per row with the MBI in the
//! first column. BCDA stores them like a CCLF8 (`cclf_num` 8).
//!
//! Reading here is stricter than BCDA's in the ways that would otherwise
//! lose or invent beneficiaries: every MBI must be valid; a first line that
//! is itself an MBI is an error (it would be dropped as a header); blank
//! lines are allowed only at the end. Other columns are ignored. A
//! repeated MBI is not an error: it is yielded with the line of its first
//! occurrence so the caller can skip it (BCDA's import keeps the first).

use std::collections::HashMap;
use std::io::BufRead;

use super::fixed::{LineReader, quote};
use super::{FormatError, mbi};

// Generous for one MBI plus a few other columns; a longer line is an error,
// which keeps memory bounded.
const MAX_LINE_LEN: usize = 4096;

/// One beneficiary row of a CSV attribution file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributedMbi {
    /// The 1-based line it is on.
    pub line: u64,
    /// The MBI from the row's first column, checked to be a valid MBI.
    pub mbi: String,
    /// When the MBI already appeared, the line where it first did; the
    /// caller should skip this row (first wins).
    pub duplicate_of: Option<u64>,
}

/// Streams the MBIs of a CSV attribution file. `\n` or `\r\n` line ends;
/// the first error ends the iteration.
///
/// Duplicate detection remembers every distinct MBI seen (about 40 bytes
/// each), so memory grows with the number of beneficiaries, not with the
/// size of the file.
pub struct CsvAttributionReader<R> {
    lines: LineReader<R>,
    header_read: bool,
    blank_line: Option<u64>,
    seen: HashMap<[u8; mbi::MBI_LEN], u64>,
    done: bool,
}

impl<R: BufRead> CsvAttributionReader<R> {
    /// Reads from `reader`; the header row is consumed by the first `next()`.
    pub fn new(reader: R) -> Self {
        Self {
            lines: LineReader::new(reader, MAX_LINE_LEN),
            header_read: false,
            blank_line: None,
            seen: HashMap::new(),
            done: false,
        }
    }

    /// The number of distinct MBIs read so far.
    pub fn distinct_mbis(&self) -> usize {
        self.seen.len()
    }

    fn read_next(&mut self) -> Result<Option<AttributedMbi>, FormatError> {
        if !self.header_read {
            self.header_read = true;
            let Some((line, bytes)) = self.lines.next_line()? else {
                return Err(FormatError::file("empty attribution file (no header row)"));
            };
            // Spreadsheet exports may start with a byte order mark.
            let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            if let Ok(first) = std::str::from_utf8(first_column(bytes))
                && mbi::is_valid_mbi(first)
            {
                return Err(FormatError::line(
                    line,
                    "the first line is an MBI, but it must be a header row (it would be skipped)",
                ));
            }
        }
        loop {
            let Some((line, bytes)) = self.lines.next_line()? else {
                return Ok(None);
            };
            if bytes.trim_ascii().is_empty() {
                self.blank_line.get_or_insert(line);
                continue;
            }
            if let Some(blank) = self.blank_line {
                return Err(FormatError::line(
                    blank,
                    "blank line before the end of the file",
                ));
            }
            let raw = first_column(bytes);
            let value = std::str::from_utf8(raw)
                .ok()
                .filter(|s| mbi::is_valid_mbi(s));
            let Some(value) = value else {
                return Err(FormatError::field(
                    line,
                    "MBI",
                    format!("invalid MBI {}", quote(raw)),
                ));
            };
            let mut key = [0u8; mbi::MBI_LEN];
            key.copy_from_slice(value.as_bytes());
            let duplicate_of = match self.seen.get(&key) {
                Some(&first) => Some(first),
                None => {
                    self.seen.insert(key, line);
                    None
                }
            };
            return Ok(Some(AttributedMbi {
                line,
                mbi: value.to_owned(),
                duplicate_of,
            }));
        }
    }
}

/// The first comma-separated column, trimmed, without surrounding quotes
/// (an MBI never contains a comma or a quote, so no escaping applies).
fn first_column(line: &[u8]) -> &[u8] {
    let end = line.iter().position(|&b| b == b',').unwrap_or(line.len());
    let col = line[..end].trim_ascii();
    col.strip_prefix(b"\"")
        .and_then(|c| c.strip_suffix(b"\""))
        .unwrap_or(col)
}

impl<R: BufRead> Iterator for CsvAttributionReader<R> {
    type Item = Result<AttributedMbi, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.read_next();
        crate::formats::fixed::fused_next(&mut self.done, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<AttributedMbi>, FormatError> {
        CsvAttributionReader::new(text.as_bytes()).collect()
    }

    #[test]
    fn reads_mbis_and_ignores_other_columns() {
        let rows =
            read("MBIs,name\r\n1S00E00AA00,x\r\n\"1EG4TE5MK73\" , y\r\n9SS0Z00FF00\r\n\r\n\n")
                .expect("reads");
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.line, r.mbi.as_str(), r.duplicate_of))
            .collect();
        assert_eq!(
            got,
            [
                (2, "1S00E00AA00", None),
                (3, "1EG4TE5MK73", None),
                (4, "9SS0Z00FF00", None)
            ]
        );
        assert!(read("MBI").expect("header only").is_empty());
        assert!(read("\u{feff}MBIs\n1S00E00AA00").is_ok());
    }

    #[test]
    fn duplicates_are_reported_first_wins() {
        let rows = read("MBI\n1S00E00AA00\n1S00E00AA01\n1S00E00AA00\n").expect("reads");
        assert_eq!(rows[2].duplicate_of, Some(2));
        assert_eq!(rows[2].line, 4);
        let mut r = CsvAttributionReader::new(&b"MBI\n1S00E00AA00\n1S00E00AA00\n"[..]);
        assert_eq!(r.by_ref().count(), 2);
        assert_eq!(r.distinct_mbis(), 1);
    }

    #[test]
    fn rejects_with_line_numbers() {
        for (text, line) in [
            ("", 0),
            ("1S00E00AA00\n1S00E00AA01\n", 1),
            ("MBI\n1S00E00AA00\nnot-an-mbi\n", 3),
            ("MBI\n1s00e00aa00\n", 2),
            ("MBI\n,1S00E00AA00\n", 2),
            ("MBI\n1S00E00AA00\n\n1S00E00AA01\n", 3),
        ] {
            let e = read(text).expect_err(text);
            assert_eq!(e.line_number(), line, "{text:?}: {e}");
        }
        let e = read("MBI\nXYZ\n").expect_err("bad");
        assert_eq!(e.to_string(), "line 2, field MBI: invalid MBI \"XYZ\"");
    }
}
