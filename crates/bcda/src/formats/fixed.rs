//! Shared machinery for the line-oriented, fixed-width formats: a bounded
//! line reader, field extraction with precise errors, and a record builder
//! that pads and refuses over-long values.

use std::io::{BufRead, Read};

use time::{Date, Month};

use super::FormatError;

/// Reads lines one at a time into a reused buffer, so memory stays bounded
/// by the longest line allowed, however long the file.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line: u64,
    max_len: usize,
    position: u64,
}

/// The buffer a reader starts with: enough for any fixed-width record, and
/// no more for formats whose limit is far above their usual line (NDJSON),
/// so the limit is a ceiling, not an allocation.
const INITIAL_LINE_CAPACITY: usize = 64 * 1024;

impl<R: BufRead> LineReader<R> {
    /// `max_len` is the longest line content accepted; a longer line is an
    /// error rather than an unbounded allocation.
    pub(crate) fn new(inner: R, max_len: usize) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(max_len.min(INITIAL_LINE_CAPACITY) + 2),
            line: 0,
            max_len,
            position: 0,
        }
    }

    /// Bytes consumed so far (terminators included), for progress.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// The next line without its `\n` or `\r\n`, with its number; `None` at
    /// the end. A last line without a terminator is accepted.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, FormatError> {
        self.buf.clear();
        // +2 leaves room for "\r\n"; anything longer is over the limit.
        let limit = self.max_len as u64 + 2;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(FormatError::from_read)?;
        if n == 0 {
            return Ok(None);
        }
        self.position += n as u64;
        self.line += 1;
        let mut end = self.buf.len();
        if self.buf.ends_with(b"\n") {
            end -= 1;
            if end > 0 && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
        } else if n as u64 == limit {
            return Err(FormatError::line(
                self.line,
                format!("line is longer than {} bytes", self.max_len),
            ));
        }
        Ok(Some((self.line, &self.buf[..end])))
    }
}

/// One field of a fixed-width layout: its name in the layout, 0-based start
/// and length in bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

impl Field {
    pub(crate) const fn new(name: &'static str, start: usize, len: usize) -> Self {
        Self { name, start, len }
    }

    pub(crate) const fn end(&self) -> usize {
        self.start + self.len
    }
}

/// Which characters a code field may hold (besides padding spaces).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Charset {
    /// `0-9`.
    Digits,
    /// `A-Z`.
    Letters,
    /// `A-Z`, `0-9`.
    Alnum,
}

impl Charset {
    fn allows(self, b: u8) -> bool {
        match self {
            Charset::Digits => b.is_ascii_digit(),
            Charset::Letters => b.is_ascii_uppercase(),
            Charset::Alnum => b.is_ascii_uppercase() || b.is_ascii_digit(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Charset::Digits => "digits",
            Charset::Letters => "capital letters",
            Charset::Alnum => "capital letters and digits",
        }
    }
}

/// The value of a field quoted for an error message: lossy UTF-8, trailing
/// padding removed, escaped by `{:?}`.
pub(crate) fn quote(raw: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(raw).trim_end())
}

/// Only printable ASCII keeps byte widths equal to character widths; CMS
/// fixed-width files are ASCII.
fn check_printable(line: u64, f: Field, raw: &[u8]) -> Result<(), FormatError> {
    if raw.iter().all(|b| (0x20..=0x7e).contains(b)) {
        Ok(())
    } else {
        Err(FormatError::field(
            line,
            f.name,
            format!(
                "invalid value {}: only printable ASCII is allowed",
                quote(raw)
            ),
        ))
    }
}

/// Extracts fields from one record whose length has already been checked.
pub(crate) struct Fields<'a> {
    record: &'a [u8],
    line: u64,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(record: &'a [u8], line: u64) -> Self {
        Self { record, line }
    }

    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    pub(crate) fn raw(&self, f: Field) -> &'a [u8] {
        &self.record[f.start..f.end()]
    }

    pub(crate) fn err(&self, f: Field, message: impl Into<String>) -> FormatError {
        FormatError::field(self.line, f.name, message)
    }

    /// Free text, left-aligned and space-padded: trailing spaces removed.
    pub(crate) fn text(&self, f: Field) -> Result<String, FormatError> {
        let raw = self.raw(f);
        check_printable(self.line, f, raw)?;
        Ok(String::from_utf8_lossy(raw)
            .trim_end_matches(' ')
            .to_owned())
    }

    /// A code: blank, or left-aligned characters of `charset` (with trailing
    /// padding only).
    pub(crate) fn code(&self, f: Field, charset: Charset) -> Result<String, FormatError> {
        let raw = self.raw(f);
        let value = trim_end_spaces(raw);
        if value.iter().all(|&b| charset.allows(b)) {
            Ok(String::from_utf8_lossy(value).into_owned())
        } else {
            Err(self.err(
                f,
                format!(
                    "invalid value {}: expected {} or blank",
                    quote(raw),
                    charset.describe()
                ),
            ))
        }
    }

    /// A code that, when present, must fill the whole field (e.g. a 2-digit
    /// FIPS state code).
    pub(crate) fn full_code(&self, f: Field, charset: Charset) -> Result<String, FormatError> {
        let value = self.code(f, charset)?;
        if value.is_empty() || value.len() == f.len {
            Ok(value)
        } else {
            Err(self.err(
                f,
                format!(
                    "invalid value {}: expected {} {} or blank",
                    quote(self.raw(f)),
                    f.len,
                    charset.describe()
                ),
            ))
        }
    }

    /// A single character of `charset`, or blank.
    pub(crate) fn char_code(
        &self,
        f: Field,
        charset: Charset,
    ) -> Result<Option<char>, FormatError> {
        let value = self.code(f, charset)?;
        Ok(value.chars().next())
    }

    /// An unsigned number, right- or left-aligned, or blank.
    pub(crate) fn number(&self, f: Field) -> Result<Option<u64>, FormatError> {
        let raw = self.raw(f);
        let value = trim_spaces(raw);
        if value.is_empty() {
            return Ok(None);
        }
        if !value.iter().all(u8::is_ascii_digit) {
            return Err(self.err(
                f,
                format!("invalid number {}: expected digits or blank", quote(raw)),
            ));
        }
        // At most 20 digits fit u64; the widest numeric field here is 11.
        String::from_utf8_lossy(value)
            .parse()
            .map(Some)
            .map_err(|_| self.err(f, format!("number {} is too large", quote(raw))))
    }

    /// A date `YYYY-MM-DD` (CCLF), or blank.
    pub(crate) fn iso_date(&self, f: Field) -> Result<Option<Date>, FormatError> {
        self.date(f, DateLayout::Iso)
    }

    /// A date `YYYYMMDD` (1-800-MEDICARE), or blank.
    pub(crate) fn compact_date(&self, f: Field) -> Result<Option<Date>, FormatError> {
        self.date(f, DateLayout::Compact)
    }

    fn date(&self, f: Field, layout: DateLayout) -> Result<Option<Date>, FormatError> {
        let raw = self.raw(f);
        if raw.iter().all(|&b| b == b' ') {
            return Ok(None);
        }
        parse_date(trim_end_spaces(raw), layout)
            .map(Some)
            .ok_or_else(|| {
                self.err(
                    f,
                    format!(
                        "invalid date {} (expected {})",
                        quote(raw),
                        layout.pattern()
                    ),
                )
            })
    }
}

/// `raw` without trailing spaces.
pub(crate) fn trim_end_spaces(raw: &[u8]) -> &[u8] {
    let end = raw.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &raw[..end]
}

/// One step of a reader that stops for good at its end or its first error:
/// what `Iterator::next` returns for `result`, with `done` set once the
/// reader must not be read again.
pub(crate) fn fused_next<T>(
    done: &mut bool,
    result: Result<Option<T>, FormatError>,
) -> Option<Result<T, FormatError>> {
    match result {
        Ok(Some(item)) => Some(Ok(item)),
        Ok(None) => {
            *done = true;
            None
        }
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}

fn trim_spaces(raw: &[u8]) -> &[u8] {
    let raw = trim_end_spaces(raw);
    let start = raw.iter().position(|&b| b != b' ').unwrap_or(raw.len());
    &raw[start..]
}

/// How a date is spelled in a file.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DateLayout {
    /// `YYYY-MM-DD`.
    Iso,
    /// `YYYYMMDD`.
    Compact,
}

impl DateLayout {
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            DateLayout::Iso => "YYYY-MM-DD",
            DateLayout::Compact => "YYYYMMDD",
        }
    }
}

/// Parses a date digit by digit (no signs, no short years, no spaces), so
/// only the exact layout is accepted.
pub(crate) fn parse_date(s: &[u8], layout: DateLayout) -> Option<Date> {
    let digits: Vec<u8> = match layout {
        DateLayout::Iso => {
            if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
                return None;
            }
            [&s[0..4], &s[5..7], &s[8..10]].concat()
        }
        DateLayout::Compact => {
            if s.len() != 8 {
                return None;
            }
            s.to_vec()
        }
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        digits[r]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(num(0..4)).ok()?;
    let month = Month::try_from(u8::try_from(num(4..6)).ok()?).ok()?;
    let day = u8::try_from(num(6..8)).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Formats a date in `layout`; only years 0001–9999 fit the four digits.
pub(crate) fn format_date(date: Date, layout: DateLayout) -> Option<String> {
    let year = date.year();
    if !(1..=9999).contains(&year) {
        return None;
    }
    let (month, day) = (u8::from(date.month()), date.day());
    Some(match layout {
        DateLayout::Iso => format!("{year:04}-{month:02}-{day:02}"),
        DateLayout::Compact => format!("{year:04}{month:02}{day:02}"),
    })
}

/// Builds one fixed-width record field by field, in layout order.
pub(crate) struct RecordBuilder {
    buf: Vec<u8>,
}

impl RecordBuilder {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buf: Vec::with_capacity(len + 1),
        }
    }

    fn err(f: Field, message: impl Into<String>) -> FormatError {
        FormatError::field(0, f.name, message)
    }

    /// Left-aligned, space-padded text; too long is an error, never a silent
    /// truncation.
    pub(crate) fn text(&mut self, f: Field, value: &str) -> Result<(), FormatError> {
        debug_assert_eq!(self.buf.len(), f.start, "{} written out of order", f.name);
        check_printable(0, f, value.as_bytes())?;
        if value.len() > f.len {
            return Err(Self::err(
                f,
                format!(
                    "value {} is {} characters, longer than the field's {}",
                    quote(value.as_bytes()),
                    value.len(),
                    f.len
                ),
            ));
        }
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.resize(f.end(), b' ');
        Ok(())
    }

    /// A code of `charset` (blank allowed), left-aligned.
    pub(crate) fn code(
        &mut self,
        f: Field,
        value: &str,
        charset: Charset,
    ) -> Result<(), FormatError> {
        if !value.bytes().all(|b| charset.allows(b)) {
            return Err(Self::err(
                f,
                format!(
                    "invalid value {}: expected {} or blank",
                    quote(value.as_bytes()),
                    charset.describe()
                ),
            ));
        }
        self.text(f, value)
    }

    /// A code that fills the field when present.
    pub(crate) fn full_code(
        &mut self,
        f: Field,
        value: &str,
        charset: Charset,
    ) -> Result<(), FormatError> {
        if !value.is_empty() && value.len() != f.len {
            return Err(Self::err(
                f,
                format!(
                    "invalid value {}: expected {} {} or blank",
                    quote(value.as_bytes()),
                    f.len,
                    charset.describe()
                ),
            ));
        }
        self.code(f, value, charset)
    }

    /// One character of `charset`, or blank.
    pub(crate) fn char_code(
        &mut self,
        f: Field,
        value: Option<char>,
        charset: Charset,
    ) -> Result<(), FormatError> {
        let mut tmp = [0u8; 4];
        let s = value.map_or("", |c| c.encode_utf8(&mut tmp));
        self.code(f, s, charset)
    }

    /// A number, or blank: zero-padded to the field's width when
    /// `zero_pad` (as CCLF codes like `BENE_AGE` are), else left-aligned and
    /// space-padded like text (as the 1-800-MEDICARE generator writes).
    pub(crate) fn number(
        &mut self,
        f: Field,
        value: Option<u64>,
        zero_pad: bool,
    ) -> Result<(), FormatError> {
        let s = match value {
            None => String::new(),
            Some(n) if zero_pad => format!("{n:0width$}", width = f.len),
            Some(n) => n.to_string(),
        };
        self.text(f, &s)
    }

    /// A date in `layout`, or blank.
    pub(crate) fn date(
        &mut self,
        f: Field,
        value: Option<Date>,
        layout: DateLayout,
    ) -> Result<(), FormatError> {
        let s = match value {
            None => String::new(),
            Some(d) => format_date(d, layout)
                .ok_or_else(|| Self::err(f, format!("date {d} has a year outside 0001-9999")))?,
        };
        self.text(f, &s)
    }

    /// The finished record (without a line terminator).
    pub(crate) fn finish(self, len: usize) -> Vec<u8> {
        debug_assert_eq!(self.buf.len(), len, "record layout does not add up");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn lines_strip_terminators_and_count() {
        let mut r = LineReader::new(&b"ab\r\ncd\nef"[..], 10);
        assert_eq!(r.next_line().expect("ok"), Some((1, &b"ab"[..])));
        assert_eq!(r.next_line().expect("ok"), Some((2, &b"cd"[..])));
        assert_eq!(r.next_line().expect("ok"), Some((3, &b"ef"[..])));
        assert_eq!(r.next_line().expect("ok"), None);
    }

    #[test]
    fn over_long_line_is_an_error_not_an_allocation() {
        let data = [b'x'; 100];
        let mut r = LineReader::new(&data[..], 10);
        let e = r.next_line().expect_err("too long");
        assert_eq!(e.line_number(), 1);
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_date(b"2019-02-28", DateLayout::Iso),
            Some(date!(2019 - 02 - 28))
        );
        assert_eq!(
            parse_date(b"20190228", DateLayout::Compact),
            Some(date!(2019 - 02 - 28))
        );
        for bad in [
            &b"2019-02-29"[..],
            b"2019-13-01",
            b"2019-1-01 ",
            b"+019-01-01",
            b"20190101",
        ] {
            assert_eq!(parse_date(bad, DateLayout::Iso), None, "{bad:?}");
        }
        assert_eq!(parse_date(b"2019-01-01", DateLayout::Compact), None);
        assert_eq!(
            format_date(date!(0001 - 01 - 02), DateLayout::Iso).as_deref(),
            Some("0001-01-02")
        );
    }
}
