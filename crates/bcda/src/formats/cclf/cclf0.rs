//! CCLF0, the package summary (docs/REFERENCES.md, "CCLF0"): a header line,
//! then one 69-character `|`-separated row per CCLF file with its record
//! count and record length. BCDA reads only the CCLF8 row, to check the
//! CCLF8 file.

use std::io::{BufRead, Write};

use super::super::FormatError;
use super::super::fixed::{Field, Fields, LineReader};
use super::cclf8::CCLF8_RECORD_LEN;
use super::cclf9::CCLF9_RECORD_LEN;

/// The header line of every CCLF0.
pub const CCLF0_HEADER: &str =
    "File Number  |File Description    |Total Records Count |Record Length";

/// The length of a CCLF0 row (and of the header line).
pub const CCLF0_LINE_LEN: usize = 69;

// A CCLF package has at most 12 files (0-9, A, B); more rows than this is
// not a CCLF0, and the cap keeps a hostile file from growing memory.
const MAX_ROWS: usize = 64;

const FILE_NUMBER: Field = Field::new("File Number", 0, 7);
const DESCRIPTION: Field = Field::new("File Description", 8, 43);
const COUNT: Field = Field::new("Total Records Count", 52, 11);
const LENGTH: Field = Field::new("Record Length", 64, 5);
const SEPARATORS: [usize; 3] = [7, 51, 63];

/// One row of a CCLF0: `CCLF8  |Beneficiary Demographics File              |       2500|  549`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cclf0Row {
    /// `CCLF` and one digit or letter, e.g. `CCLF8`.
    pub file_number: String,
    /// At most 43 characters, e.g. `Beneficiary Demographics File`.
    pub description: String,
    /// The number of records in that file (at most 11 digits).
    pub record_count: u64,
    /// The length of its records in bytes (at most 5 digits).
    pub record_length: u32,
}

impl Cclf0Row {
    /// The CCLF8 row for `record_count` records of 549 bytes.
    pub fn cclf8(record_count: u64) -> Self {
        Self {
            file_number: "CCLF8".to_owned(),
            description: "Beneficiary Demographics File".to_owned(),
            record_count,
            record_length: CCLF8_RECORD_LEN as u32,
        }
    }

    /// The CCLF9 row for `record_count` records of 55 bytes.
    pub fn cclf9(record_count: u64) -> Self {
        Self {
            file_number: "CCLF9".to_owned(),
            description: "BENE XREF File".to_owned(),
            record_count,
            record_length: CCLF9_RECORD_LEN as u32,
        }
    }

    fn parse(bytes: &[u8], line: u64) -> Result<Self, FormatError> {
        if bytes.len() != CCLF0_LINE_LEN {
            return Err(FormatError::line(
                line,
                format!(
                    "CCLF0 row is {} characters, expected {CCLF0_LINE_LEN}",
                    bytes.len()
                ),
            ));
        }
        for at in SEPARATORS {
            if bytes[at] != b'|' {
                return Err(FormatError::line(
                    line,
                    format!("expected '|' at column {} of the CCLF0 row", at + 1),
                ));
            }
        }
        let f = Fields::new(bytes, line);
        let file_number = f.text(FILE_NUMBER)?;
        if !valid_file_number(&file_number) {
            return Err(f.err(
                FILE_NUMBER,
                format!(
                    "invalid file number {file_number:?} (expected CCLF and one digit or letter)"
                ),
            ));
        }
        let record_count = f
            .number(COUNT)?
            .ok_or_else(|| f.err(COUNT, "the record count is blank"))?;
        let record_length = f
            .number(LENGTH)?
            .ok_or_else(|| f.err(LENGTH, "the record length is blank"))?;
        Ok(Self {
            file_number,
            description: f.text(DESCRIPTION)?,
            record_count,
            record_length: u32::try_from(record_length)
                .map_err(|_| f.err(LENGTH, "record length out of range"))?,
        })
    }

    fn encode(&self) -> Result<String, FormatError> {
        let err = |field: Field, message: String| FormatError::field(0, field.name, message);
        if !valid_file_number(&self.file_number) {
            return Err(err(
                FILE_NUMBER,
                format!("invalid file number {:?}", self.file_number),
            ));
        }
        let d = &self.description;
        if d.len() > DESCRIPTION.len || !d.bytes().all(|b| (0x20..=0x7e).contains(&b) && b != b'|')
        {
            return Err(err(
                DESCRIPTION,
                format!(
                    "description {d:?} must be at most 43 printable ASCII characters without '|'"
                ),
            ));
        }
        if self.record_count > 99_999_999_999 {
            return Err(err(
                COUNT,
                format!("record count {} does not fit 11 digits", self.record_count),
            ));
        }
        if self.record_length > 99_999 {
            return Err(err(
                LENGTH,
                format!("record length {} does not fit 5 digits", self.record_length),
            ));
        }
        Ok(format!(
            "{:<7}|{:<43}|{:>11}|{:>5}",
            self.file_number, self.description, self.record_count, self.record_length
        ))
    }
}

fn valid_file_number(s: &str) -> bool {
    s.len() == 5
        && s.starts_with("CCLF")
        && (s.as_bytes()[4].is_ascii_digit() || s.as_bytes()[4].is_ascii_uppercase())
}

/// A parsed CCLF0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cclf0Summary {
    /// The rows, in file order; each file number at most once.
    pub rows: Vec<Cclf0Row>,
}

impl Cclf0Summary {
    /// Reads a CCLF0: the exact header line, then rows. Blank lines and
    /// repeated file numbers are errors.
    pub fn read<R: BufRead>(reader: R) -> Result<Self, FormatError> {
        let mut lines = LineReader::new(reader, CCLF0_LINE_LEN + 1);
        match lines.next_line()? {
            None => return Err(FormatError::file("empty CCLF0 (no header line)")),
            Some((line, bytes)) => {
                if crate::formats::fixed::trim_end_spaces(bytes) != CCLF0_HEADER.as_bytes() {
                    return Err(FormatError::line(
                        line,
                        format!("expected the CCLF0 header {CCLF0_HEADER:?}"),
                    ));
                }
            }
        }
        let mut rows: Vec<Cclf0Row> = Vec::new();
        while let Some((line, bytes)) = lines.next_line()? {
            if bytes.is_empty() {
                return Err(FormatError::line(line, "blank line in CCLF0"));
            }
            if rows.len() == MAX_ROWS {
                return Err(FormatError::line(
                    line,
                    format!("more than {MAX_ROWS} rows in CCLF0"),
                ));
            }
            let row = Cclf0Row::parse(bytes, line)?;
            if rows.iter().any(|r| r.file_number == row.file_number) {
                return Err(FormatError::field(
                    line,
                    FILE_NUMBER.name,
                    format!("{} listed twice", row.file_number),
                ));
            }
            rows.push(row);
        }
        Ok(Self { rows })
    }

    /// Writes the header and the rows, each line ending in `\n`.
    pub fn write<W: Write + ?Sized>(&self, out: &mut W) -> Result<(), FormatError> {
        let mut text = format!("{CCLF0_HEADER}\n");
        for row in &self.rows {
            text.push_str(&row.encode()?);
            text.push('\n');
        }
        out.write_all(text.as_bytes())?;
        Ok(())
    }

    /// The row for `file_number` (e.g. `"CCLF8"`).
    pub fn row(&self, file_number: &str) -> Option<&Cclf0Row> {
        self.rows.iter().find(|r| r.file_number == file_number)
    }

    /// The CCLF8 record count the summary declares, after checking that it
    /// has a CCLF8 row and that the row declares 549-byte records (BCDA
    /// rejects records longer than the declared length; a different length
    /// means a layout this reader does not know). Pass the count to
    /// [`super::Cclf8Reader::expect_count`].
    pub fn cclf8_record_count(&self) -> Result<u64, FormatError> {
        let row = self
            .row("CCLF8")
            .ok_or_else(|| FormatError::file("CCLF0 has no CCLF8 row"))?;
        if row.record_length as usize != CCLF8_RECORD_LEN {
            return Err(FormatError::file(format!(
                "CCLF0 declares CCLF8 records of {} bytes, expected {CCLF8_RECORD_LEN}",
                row.record_length
            )));
        }
        Ok(row.record_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of the CCLF0 BCDA's synthetic packages carry (docs/REFERENCES.md, "CCLF0").
    const SANDBOX: &str = "File Number  |File Description    |Total Records Count |Record Length
CCLF1  |Part A Claims Header File                  |          6|  292
CCLF8  |Beneficiary Demographics File              |       2500|  549
CCLF9  |BENE XREF File                             |          2|   55
CCLFA  |Part A BE and Demo Codes File              |          6|  101";

    #[test]
    fn reads_sandbox_shape() {
        let s = Cclf0Summary::read(SANDBOX.as_bytes()).expect("parses");
        assert_eq!(s.rows.len(), 4);
        assert_eq!(s.cclf8_record_count().expect("cclf8"), 2500);
        assert_eq!(s.row("CCLF9").map(|r| r.record_length), Some(55));
        assert_eq!(
            s.row("CCLFA").map(|r| r.description.as_str()),
            Some("Part A BE and Demo Codes File")
        );
    }

    #[test]
    fn round_trip() {
        let s = Cclf0Summary {
            rows: vec![Cclf0Row::cclf8(2500), Cclf0Row::cclf9(2)],
        };
        let mut out = Vec::new();
        s.write(&mut out).expect("writes");
        let text = String::from_utf8(out.clone()).expect("ascii");
        assert!(
            text.contains(
                "CCLF8  |Beneficiary Demographics File              |       2500|  549\n"
            )
        );
        assert!(text.lines().all(|l| l.len() == CCLF0_LINE_LEN));
        assert_eq!(Cclf0Summary::read(&out[..]).expect("parses"), s);
        // CRLF too.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(Cclf0Summary::read(crlf.as_bytes()).expect("parses"), s);
    }

    #[test]
    fn rejects_malformed() {
        let cases: [(&str, u64); 7] = [
            ("", 0),
            ("File Number|File Description", 1),
            (
                "File Number  |File Description    |Total Records Count |Record Length\nCCLF8  |Beneficiary Demographics File              |       2500| 549",
                2,
            ),
            (
                "File Number  |File Description    |Total Records Count |Record Length\nCCLF8  |Beneficiary Demographics File              |       25X0|  549",
                2,
            ),
            (
                "File Number  |File Description    |Total Records Count |Record Length\nCCLF8  |Beneficiary Demographics File              |       2500:  549",
                2,
            ),
            (
                "File Number  |File Description    |Total Records Count |Record Length\n\nCCLF8  |Beneficiary Demographics File              |       2500|  549",
                2,
            ),
            (
                "File Number  |File Description    |Total Records Count |Record Length\nCCLF8  |Beneficiary Demographics File              |       2500|  549\nCCLF8  |Beneficiary Demographics File              |       2500|  549",
                3,
            ),
        ];
        for (text, line) in cases {
            let e = Cclf0Summary::read(text.as_bytes()).expect_err(text);
            assert_eq!(e.line_number(), line, "{e}");
        }
    }

    #[test]
    fn cclf8_row_checks() {
        let none = Cclf0Summary {
            rows: vec![Cclf0Row::cclf9(1)],
        };
        assert!(none.cclf8_record_count().is_err());
        let mut row = Cclf0Row::cclf8(5);
        row.record_length = 38;
        let odd = Cclf0Summary { rows: vec![row] };
        assert!(
            odd.cclf8_record_count()
                .expect_err("length")
                .to_string()
                .contains("38 bytes")
        );
    }

    #[test]
    fn write_rejects_unfit_rows() {
        let mut row = Cclf0Row::cclf8(1);
        row.description = "x".repeat(44);
        let s = Cclf0Summary { rows: vec![row] };
        assert!(s.write(&mut Vec::new()).is_err());
        let s = Cclf0Summary {
            rows: vec![Cclf0Row::cclf8(100_000_000_000)],
        };
        assert!(s.write(&mut Vec::new()).is_err());
    }
}
