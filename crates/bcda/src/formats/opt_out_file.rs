//! The 1-800-MEDICARE data-sharing preference ("DPRF", opt-out) file
//! (docs/REFERENCES.md, "Opt-out files"; BCDA `optout/utils.go` and
//! `bcda/suppression/importer.go`):
//!
//! ```text
//! HDR_BENEDATASHR<yyyymmdd>
//! <459-byte record>
//! …
//! TRL_BENEDATASHR<yyyymmdd><record count, left-aligned in 10>
//! ```
//!
//! BCDA reads the MBI, link key, effective date, source code, preference,
//! the SAMHSA columns and the ACO id; every field is typed here. Dates are
//! `YYYYMMDD` and may be blank in every date field (BCDA's `ConvertDt`
//! treats a blank effective date as "no date"; the generator leaves the
//! SAMHSA date blank). The MBI must be a valid MBI: BCDA switched this
//! column from HICNs to MBIs (its PR #497), and a value that is not an MBI
//! could never match a beneficiary, so it is an error rather than a silent
//! no-op.

use std::io::{BufRead, Write};

use time::Date;

use super::fixed::{
    Charset, DateLayout, Field, Fields, LineReader, RecordBuilder, format_date, parse_date, quote,
};
use super::{FormatError, mbi};

/// The length of a body record in bytes, without the line terminator.
pub const OPT_OUT_RECORD_LEN: usize = 459;

const HEADER_CODE: &[u8] = b"HDR_BENEDATASHR";
const TRAILER_CODE: &[u8] = b"TRL_BENEDATASHR";
const HEADER_LEN: usize = 23;
const TRAILER_LEN: usize = 33;

const MBI: Field = Field::new("MBI", 0, 11);
const LINK_KEY: Field = Field::new("BENE_LINK_KEY", 11, 10);
const FIRST: Field = Field::new("FIRST_NAME", 21, 30);
const MIDDLE: Field = Field::new("MIDDLE_NAME", 51, 30);
const LAST: Field = Field::new("LAST_NAME", 81, 40);
const DOB: Field = Field::new("BIRTH_DT", 121, 8);
const ADDR: [Field; 3] = [
    Field::new("ADDRESS_LINE_1", 129, 55),
    Field::new("ADDRESS_LINE_2", 184, 55),
    Field::new("ADDRESS_LINE_3", 239, 55),
];
const CITY: Field = Field::new("CITY", 294, 40);
const STATE: Field = Field::new("STATE", 334, 2);
const ZIP5: Field = Field::new("ZIP5", 336, 5);
const ZIP4: Field = Field::new("ZIP4", 341, 4);
const GENDER: Field = Field::new("GENDER", 345, 1);
const ENCOUNTER: Field = Field::new("ENCOUNTER_DT", 346, 8);
const EFFECTIVE: Field = Field::new("EFFECTIVE_DT", 354, 8);
const SOURCE: Field = Field::new("SOURCE_CD", 362, 5);
const MECHANISM: Field = Field::new("MECHANISM_CD", 367, 1);
const PREFERENCE: Field = Field::new("PREF_IND", 368, 1);
const SAMHSA_EFFECTIVE: Field = Field::new("SAMHSA_EFFECTIVE_DT", 369, 8);
const SAMHSA_SOURCE: Field = Field::new("SAMHSA_SOURCE_CD", 377, 5);
const SAMHSA_MECHANISM: Field = Field::new("SAMHSA_MECHANISM_CD", 382, 1);
const SAMHSA_PREFERENCE: Field = Field::new("SAMHSA_PREF_IND", 383, 1);
const ACO_ID: Field = Field::new("ACO_ID", 384, 5);
const ACO_NAME: Field = Field::new("ACO_LEGAL_NAME", 389, 70);

/// The beneficiary's gender as 1-800-MEDICARE records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `M`.
    Male,
    /// `F`.
    Female,
    /// `U`.
    Unknown,
}

impl Gender {
    fn code(self) -> char {
        match self {
            Gender::Male => 'M',
            Gender::Female => 'F',
            Gender::Unknown => 'U',
        }
    }
}

/// A data-sharing preference indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preference {
    /// `Y`: the beneficiary agrees to share.
    Share,
    /// `N`: the beneficiary opts out; BCDA then excludes the MBI from every
    /// export if this is their latest preference in the look-back window.
    DoNotShare,
}

impl Preference {
    fn code(self) -> char {
        match self {
            Preference::Share => 'Y',
            Preference::DoNotShare => 'N',
        }
    }
}

/// One body record of an opt-out file (0-based byte ranges in brackets).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptOutRecord {
    /// [0, 11) a valid MBI.
    pub mbi: String,
    /// [11, 21) the beneficiary link key; blank is `None` (BCDA stores 0).
    pub beneficiary_link_key: Option<u64>,
    /// [21, 51).
    pub first_name: String,
    /// [51, 81).
    pub middle_name: String,
    /// [81, 121).
    pub last_name: String,
    /// [121, 129) `YYYYMMDD`.
    pub birth_date: Option<Date>,
    /// [129, 294) three lines of 55.
    pub address_lines: [String; 3],
    /// [294, 334).
    pub city: String,
    /// [334, 336) 2 capitals or blank.
    pub state: String,
    /// [336, 341) 5 digits or blank.
    pub zip5: String,
    /// [341, 345) 4 digits or blank.
    pub zip4: String,
    /// `[345]` `M`, `F`, `U` or blank.
    pub gender: Option<Gender>,
    /// [346, 354) the date of the call.
    pub encounter_date: Option<Date>,
    /// [354, 362) when the preference takes effect; BCDA's 60-day look-back
    /// compares this date.
    pub effective_date: Option<Date>,
    /// [362, 367) where the preference came from (`1-800`, `1800`, blank).
    pub source_code: String,
    /// `[367]` how the decision was made (`T`), one capital/digit or blank.
    pub mechanism_code: Option<char>,
    /// `[368]` `Y`, `N` or blank; blank rows are ignored by BCDA's suppression query.
    pub preference: Option<Preference>,
    /// [369, 377) SAMHSA (substance use data) preference effective date.
    pub samhsa_effective_date: Option<Date>,
    /// [377, 382) SAMHSA source code.
    pub samhsa_source_code: String,
    /// `[382]` SAMHSA mechanism code, one capital/digit or blank.
    pub samhsa_mechanism_code: Option<char>,
    /// `[383]` SAMHSA preference `Y`, `N` or blank.
    pub samhsa_preference: Option<Preference>,
    /// [384, 389) the ACO the call was about (e.g. `A9990`), capitals and
    /// digits or blank. BCDA applies opt-outs across all ACOs regardless.
    pub aco_id: String,
    /// [389, 459).
    pub aco_legal_name: String,
}

impl OptOutRecord {
    /// Parses one body record (without its line terminator).
    pub fn parse(record: &[u8], line: u64) -> Result<Self, FormatError> {
        if record.len() != OPT_OUT_RECORD_LEN {
            let short = if record.len() < OPT_OUT_RECORD_LEN {
                "too short"
            } else {
                "too long"
            };
            return Err(FormatError::line(
                line,
                format!(
                    "opt-out record is {} bytes, expected {OPT_OUT_RECORD_LEN}: {short}",
                    record.len()
                ),
            ));
        }
        let f = Fields::new(record, line);
        let mbi = f.text(MBI)?;
        if !mbi::is_valid_mbi(&mbi) {
            return Err(f.err(MBI, format!("invalid MBI {}", quote(f.raw(MBI)))));
        }
        let gender = match f.char_code(GENDER, Charset::Letters)? {
            None => None,
            Some('M') => Some(Gender::Male),
            Some('F') => Some(Gender::Female),
            Some('U') => Some(Gender::Unknown),
            Some(c) => {
                return Err(f.err(
                    GENDER,
                    format!("invalid gender {c:?} (expected M, F, U or blank)"),
                ));
            }
        };
        let [a1, a2, a3] = ADDR;
        Ok(Self {
            mbi,
            beneficiary_link_key: f.number(LINK_KEY)?,
            first_name: f.text(FIRST)?,
            middle_name: f.text(MIDDLE)?,
            last_name: f.text(LAST)?,
            birth_date: f.compact_date(DOB)?,
            address_lines: [f.text(a1)?, f.text(a2)?, f.text(a3)?],
            city: f.text(CITY)?,
            state: f.full_code(STATE, Charset::Letters)?,
            zip5: f.full_code(ZIP5, Charset::Digits)?,
            zip4: f.full_code(ZIP4, Charset::Digits)?,
            gender,
            encounter_date: f.compact_date(ENCOUNTER)?,
            effective_date: f.compact_date(EFFECTIVE)?,
            source_code: f.text(SOURCE)?,
            mechanism_code: f.char_code(MECHANISM, Charset::Alnum)?,
            preference: preference(&f, PREFERENCE)?,
            samhsa_effective_date: f.compact_date(SAMHSA_EFFECTIVE)?,
            samhsa_source_code: f.text(SAMHSA_SOURCE)?,
            samhsa_mechanism_code: f.char_code(SAMHSA_MECHANISM, Charset::Alnum)?,
            samhsa_preference: preference(&f, SAMHSA_PREFERENCE)?,
            aco_id: f.code(ACO_ID, Charset::Alnum)?,
            aco_legal_name: f.text(ACO_NAME)?,
        })
    }

    /// The 459-byte record, space-padded, without a line terminator. A value
    /// that does not fit is an error naming the field.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        if !mbi::is_valid_mbi(&self.mbi) {
            return Err(FormatError::field(
                0,
                MBI.name,
                format!("invalid MBI {:?}", self.mbi),
            ));
        }
        let mut b = RecordBuilder::new(OPT_OUT_RECORD_LEN);
        b.text(MBI, &self.mbi)?;
        b.number(LINK_KEY, self.beneficiary_link_key, false)?;
        b.text(FIRST, &self.first_name)?;
        b.text(MIDDLE, &self.middle_name)?;
        b.text(LAST, &self.last_name)?;
        b.date(DOB, self.birth_date, DateLayout::Compact)?;
        for (field, value) in ADDR.iter().zip(&self.address_lines) {
            b.text(*field, value)?;
        }
        b.text(CITY, &self.city)?;
        b.full_code(STATE, &self.state, Charset::Letters)?;
        b.full_code(ZIP5, &self.zip5, Charset::Digits)?;
        b.full_code(ZIP4, &self.zip4, Charset::Digits)?;
        b.char_code(GENDER, self.gender.map(Gender::code), Charset::Letters)?;
        b.date(ENCOUNTER, self.encounter_date, DateLayout::Compact)?;
        b.date(EFFECTIVE, self.effective_date, DateLayout::Compact)?;
        b.text(SOURCE, &self.source_code)?;
        b.char_code(MECHANISM, self.mechanism_code, Charset::Alnum)?;
        b.char_code(
            PREFERENCE,
            self.preference.map(Preference::code),
            Charset::Letters,
        )?;
        b.date(
            SAMHSA_EFFECTIVE,
            self.samhsa_effective_date,
            DateLayout::Compact,
        )?;
        b.text(SAMHSA_SOURCE, &self.samhsa_source_code)?;
        b.char_code(SAMHSA_MECHANISM, self.samhsa_mechanism_code, Charset::Alnum)?;
        b.char_code(
            SAMHSA_PREFERENCE,
            self.samhsa_preference.map(Preference::code),
            Charset::Letters,
        )?;
        b.code(ACO_ID, &self.aco_id, Charset::Alnum)?;
        b.text(ACO_NAME, &self.aco_legal_name)?;
        Ok(b.finish(OPT_OUT_RECORD_LEN))
    }
}

fn preference(f: &Fields<'_>, field: Field) -> Result<Option<Preference>, FormatError> {
    match f.raw(field) {
        b" " => Ok(None),
        b"Y" => Ok(Some(Preference::Share)),
        b"N" => Ok(Some(Preference::DoNotShare)),
        other => Err(f.err(
            field,
            format!(
                "invalid preference {} (expected Y, N or blank)",
                quote(other)
            ),
        )),
    }
}

/// Writes an opt-out file: the header on creation, one record per
/// [`OptOutWriter::write`], the trailer with the count on
/// [`OptOutWriter::finish`]. Lines end in `\n`.
pub struct OptOutWriter<W: Write> {
    out: W,
    file_date: String,
    count: u64,
}

impl<W: Write> OptOutWriter<W> {
    /// Starts a file dated `file_date` (header and trailer carry it).
    pub fn new(mut out: W, file_date: Date) -> Result<Self, FormatError> {
        let file_date = format_date(file_date, DateLayout::Compact).ok_or_else(|| {
            FormatError::file(format!(
                "file date {file_date} has a year outside 0001-9999"
            ))
        })?;
        out.write_all(HEADER_CODE)?;
        out.write_all(file_date.as_bytes())?;
        out.write_all(b"\n")?;
        Ok(Self {
            out,
            file_date,
            count: 0,
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &OptOutRecord) -> Result<(), FormatError> {
        let mut bytes = record.encode()?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.count += 1;
        Ok(())
    }

    /// Writes the trailer and returns the output.
    pub fn finish(mut self) -> Result<W, FormatError> {
        if self.count > 9_999_999_999 {
            return Err(FormatError::file(
                "more than 9,999,999,999 records do not fit the trailer count",
            ));
        }
        let trailer = format!(
            "{}{}{:<10}\n",
            String::from_utf8_lossy(TRAILER_CODE),
            self.file_date,
            self.count
        );
        self.out.write_all(trailer.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a whole opt-out file dated `file_date` from `records`.
pub fn write_opt_out_file<'a, W: Write>(
    out: W,
    file_date: Date,
    records: impl IntoIterator<Item = &'a OptOutRecord>,
) -> Result<W, FormatError> {
    let mut w = OptOutWriter::new(out, file_date)?;
    for r in records {
        w.write(r)?;
    }
    w.finish()
}

/// The trailer of an opt-out file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptOutTrailer {
    /// The `TRL_BENEDATASHR<yyyymmdd>` date (the reader does not compare it with the header's).
    pub date: Date,
    /// The number of body records it declares.
    pub record_count: u64,
}

/// Streams the records of an opt-out file. [`OptOutReader::new`] reads and
/// checks the header; the iterator yields one record per body line; on
/// reaching the trailer it checks that the declared count equals the
/// records read and that nothing follows, so a count mismatch or a missing
/// trailer is reported as an error from the final `next()`. Blank lines are
/// errors. The first error ends the iteration.
///
/// Header and trailer may carry trailing spaces (files padded to record
/// width); their dates are not required to match each other.
pub struct OptOutReader<R> {
    lines: LineReader<R>,
    file_date: Date,
    trailer: Option<OptOutTrailer>,
    count: u64,
    done: bool,
}

impl<R: BufRead> OptOutReader<R> {
    /// Reads the header line `HDR_BENEDATASHR<yyyymmdd>`.
    pub fn new(reader: R) -> Result<Self, FormatError> {
        let mut lines = LineReader::new(reader, OPT_OUT_RECORD_LEN + 1);
        let Some((line, bytes)) = lines.next_line()? else {
            return Err(FormatError::file(
                "empty opt-out file (no HDR_BENEDATASHR header)",
            ));
        };
        let bytes = crate::formats::fixed::trim_end_spaces(bytes);
        if !bytes.starts_with(HEADER_CODE) {
            return Err(FormatError::line(
                line,
                "expected the header HDR_BENEDATASHR<yyyymmdd>",
            ));
        }
        if bytes.len() != HEADER_LEN {
            return Err(FormatError::line(
                line,
                format!(
                    "header is {} characters, expected {HEADER_LEN} (HDR_BENEDATASHR<yyyymmdd>)",
                    bytes.len()
                ),
            ));
        }
        let date_raw = &bytes[HEADER_CODE.len()..];
        let file_date = parse_date(date_raw, DateLayout::Compact).ok_or_else(|| {
            FormatError::field(
                line,
                "HDR_DATE",
                format!("invalid date {} (expected YYYYMMDD)", quote(date_raw)),
            )
        })?;
        Ok(Self {
            lines,
            file_date,
            trailer: None,
            count: 0,
            done: false,
        })
    }

    /// The `HDR_BENEDATASHR<yyyymmdd>` date of the file.
    pub fn file_date(&self) -> Date {
        self.file_date
    }

    /// The trailer, once the iteration has reached it and it checked out.
    pub fn trailer(&self) -> Option<OptOutTrailer> {
        self.trailer
    }

    /// How many body records have been read so far.
    pub fn records_read(&self) -> u64 {
        self.count
    }

    fn read_next(&mut self) -> Result<Option<OptOutRecord>, FormatError> {
        let count = self.count;
        let Some((line, bytes)) = self.lines.next_line()? else {
            return Err(FormatError::file(format!(
                "opt-out file ends after {count} records without a TRL_BENEDATASHR trailer"
            )));
        };
        if bytes.starts_with(TRAILER_CODE) {
            let trailer = parse_trailer(crate::formats::fixed::trim_end_spaces(bytes), line)?;
            if trailer.record_count != count {
                return Err(FormatError::line(
                    line,
                    format!(
                        "the trailer declares {} records but the file has {count}",
                        trailer.record_count
                    ),
                ));
            }
            if let Some((after, _)) = self.lines.next_line()? {
                return Err(FormatError::line(after, "content after the trailer"));
            }
            self.trailer = Some(trailer);
            return Ok(None);
        }
        if bytes.starts_with(HEADER_CODE) {
            return Err(FormatError::line(line, "a second header"));
        }
        if bytes.is_empty() {
            return Err(FormatError::line(line, "blank line in opt-out file"));
        }
        let record = OptOutRecord::parse(bytes, line)?;
        self.count += 1;
        Ok(Some(record))
    }
}

fn parse_trailer(bytes: &[u8], line: u64) -> Result<OptOutTrailer, FormatError> {
    if bytes.len() < HEADER_LEN + 1 || bytes.len() > TRAILER_LEN {
        return Err(FormatError::line(
            line,
            format!(
                "trailer is {} characters, expected TRL_BENEDATASHR<yyyymmdd><count in 10>",
                bytes.len()
            ),
        ));
    }
    let date_raw = &bytes[TRAILER_CODE.len()..HEADER_LEN];
    let date = parse_date(date_raw, DateLayout::Compact).ok_or_else(|| {
        FormatError::field(
            line,
            "TRL_DATE",
            format!("invalid date {} (expected YYYYMMDD)", quote(date_raw)),
        )
    })?;
    let count_raw = &bytes[HEADER_LEN..];
    let digits = count_raw.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(FormatError::field(
            line,
            "TRL_RECORD_COUNT",
            format!(
                "invalid record count {} (expected digits)",
                quote(count_raw)
            ),
        ));
    }
    let record_count = String::from_utf8_lossy(digits)
        .parse()
        .map_err(|_| FormatError::field(line, "TRL_RECORD_COUNT", "record count out of range"))?;
    Ok(OptOutTrailer { date, record_count })
}

impl<R: BufRead> Iterator for OptOutReader<R> {
    type Item = Result<OptOutRecord, FormatError>;

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
    use time::macros::date;

    fn sample(mbi: &str, pref: Option<Preference>) -> OptOutRecord {
        OptOutRecord {
            mbi: mbi.to_owned(),
            beneficiary_link_key: Some(12345),
            first_name: "Jane".to_owned(),
            middle_name: String::new(),
            last_name: "Doe".to_owned(),
            birth_date: Some(date!(1940 - 02 - 29)),
            address_lines: ["1 Main St.".to_owned(), String::new(), String::new()],
            city: "City".to_owned(),
            state: "ST".to_owned(),
            zip5: "00000".to_owned(),
            zip4: String::new(),
            gender: Some(Gender::Female),
            encounter_date: Some(date!(2019 - 08 - 12)),
            effective_date: Some(date!(2019 - 08 - 14)),
            source_code: "1-800".to_owned(),
            mechanism_code: Some('T'),
            preference: pref,
            samhsa_effective_date: None,
            samhsa_source_code: String::new(),
            samhsa_mechanism_code: None,
            samhsa_preference: Some(Preference::DoNotShare),
            aco_id: "A9990".to_owned(),
            aco_legal_name: "Example ACO".to_owned(),
        }
    }

    fn file(records: &[OptOutRecord]) -> Vec<u8> {
        write_opt_out_file(Vec::new(), date!(2019 - 08 - 16), records).expect("writes")
    }

    fn read_all(data: &[u8]) -> Result<Vec<OptOutRecord>, FormatError> {
        OptOutReader::new(data)?.collect()
    }

    #[test]
    fn round_trip() {
        let recs = vec![
            sample("1S00E00AA00", Some(Preference::DoNotShare)),
            sample("1S00E00AA01", Some(Preference::Share)),
            OptOutRecord {
                mbi: "1EG4TE5MK73".to_owned(),
                ..OptOutRecord::default()
            },
        ];
        let data = file(&recs);
        let text = String::from_utf8(data.clone()).expect("ascii");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "HDR_BENEDATASHR20190816");
        assert_eq!(lines[4], "TRL_BENEDATASHR201908163         ");
        assert!(lines[1..4].iter().all(|l| l.len() == OPT_OUT_RECORD_LEN));
        let mut reader = OptOutReader::new(&data[..]).expect("header");
        assert_eq!(reader.file_date(), date!(2019 - 08 - 16));
        let back: Vec<_> = reader.by_ref().collect::<Result<_, _>>().expect("reads");
        assert_eq!(back, recs);
        assert_eq!(
            reader.trailer(),
            Some(OptOutTrailer {
                date: date!(2019 - 08 - 16),
                record_count: 3
            })
        );
        // An empty file is a header and a zero trailer.
        assert!(read_all(&file(&[])).expect("empty").is_empty());
        // CRLF line ends.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(read_all(crlf.as_bytes()).expect("crlf").len(), 3);
    }

    #[test]
    fn byte_positions_match_bcda_slices() {
        let bytes = sample("1S00E00AA00", Some(Preference::DoNotShare))
            .encode()
            .expect("encodes");
        assert_eq!(&bytes[0..11], b"1S00E00AA00");
        assert_eq!(&bytes[11..21], b"12345     ");
        assert_eq!(&bytes[121..129], b"19400229");
        assert_eq!(&bytes[345..346], b"F");
        assert_eq!(&bytes[354..362], b"20190814");
        assert_eq!(&bytes[362..367], b"1-800");
        assert_eq!(&bytes[367..369], b"TN");
        assert_eq!(&bytes[369..377], b"        ");
        assert_eq!(&bytes[383..389], b"NA9990");
    }

    fn body_line(data: &[u8], patch_at: usize, value: &[u8]) -> Vec<u8> {
        // Patch the first body record (after the 24-byte header line).
        let mut d = data.to_vec();
        let at = HEADER_LEN + 1 + patch_at;
        d[at..at + value.len()].copy_from_slice(value);
        d
    }

    #[test]
    fn malformed_records_name_line_and_field() {
        let data = file(&[sample("1S00E00AA00", Some(Preference::Share))]);
        for (at, value, field) in [
            (0, &b"1000000019 "[..], "MBI"),
            (11, b"12A45     ", "BENE_LINK_KEY"),
            (121, b"19401301", "BIRTH_DT"),
            (345, b"X", "GENDER"),
            (354, b"2019-08-", "EFFECTIVE_DT"),
            (368, b"X", "PREF_IND"),
            (383, b"y", "SAMHSA_PREF_IND"),
            (369, b"2019081 ", "SAMHSA_EFFECTIVE_DT"),
        ] {
            let e = read_all(&body_line(&data, at, value)).expect_err(field);
            assert_eq!((e.line_number(), e.field_name()), (2, Some(field)), "{e}");
        }
    }

    #[test]
    fn rejects_bad_header_trailer_and_counts() {
        let good = String::from_utf8(file(&[sample("1S00E00AA00", None)])).expect("ascii");
        let cases: Vec<(String, u64, &str)> = vec![
            (String::new(), 0, "empty"),
            (good.replacen("HDR_", "HDX_", 1), 1, "header"),
            (
                good.replacen("HDR_BENEDATASHR20190816", "HDR_BENEDATASHR20191316", 1),
                1,
                "HDR_DATE",
            ),
            (
                good.replacen("HDR_BENEDATASHR20190816", "HDR_BENEDATASHR2019081", 1),
                1,
                "header length",
            ),
            (
                good.replacen("TRL_BENEDATASHR201908161", "TRL_BENEDATASHR201908162", 1),
                3,
                "count mismatch",
            ),
            (
                good.replacen("TRL_BENEDATASHR201908161", "TRL_BENEDATASHR20190816x", 1),
                3,
                "count digits",
            ),
            (
                good.replacen("TRL_BENEDATASHR201908161", "TRL_BENEDATASHR20199916 1", 1),
                3,
                "TRL_DATE",
            ),
            (
                good.split_inclusive('\n').take(2).collect(),
                0,
                "missing trailer",
            ),
            (format!("{good}\n"), 4, "blank after trailer"),
            (
                format!("{good}TRL_BENEDATASHR201908161\n"),
                4,
                "second trailer",
            ),
            (good.replacen("\n", "\n\n", 1), 2, "blank line"),
            (
                good.replacen("\n", "\nHDR_BENEDATASHR20190816\n", 1),
                2,
                "second header",
            ),
        ];
        for (text, line, what) in cases {
            let e = read_all(text.as_bytes()).expect_err(what);
            assert_eq!(e.line_number(), line, "{what}: {e}");
        }
    }

    #[test]
    fn rejects_wrong_record_lengths() {
        let good = String::from_utf8(file(&[sample("1S00E00AA00", None)])).expect("ascii");
        let record = good.lines().nth(1).expect("record");
        let short = good.replacen(record, record.trim_end(), 1);
        let e = read_all(short.as_bytes()).expect_err("short");
        assert!(
            e.to_string().starts_with("line 2: opt-out record is"),
            "{e}"
        );
        assert!(e.to_string().contains("too short"), "{e}");
        let long = good.replacen(record, &format!("{record} "), 1);
        assert!(
            read_all(long.as_bytes())
                .expect_err("long")
                .to_string()
                .contains("too long")
        );
    }

    #[test]
    fn trailer_counts_are_read_left_or_right_aligned() {
        let good = String::from_utf8(file(&[sample("1S00E00AA00", None)])).expect("ascii");
        let right = good.replacen(
            "TRL_BENEDATASHR201908161         ",
            "TRL_BENEDATASHR20190816         1",
            1,
        );
        assert_eq!(read_all(right.as_bytes()).expect("right-aligned").len(), 1);
    }

    #[test]
    fn writer_rejects_unfit_values() {
        let mut rec = sample("1S00E00AA00", None);
        rec.aco_legal_name = "x".repeat(71);
        let mut w = OptOutWriter::new(Vec::new(), date!(2019 - 08 - 16)).expect("header");
        assert_eq!(
            w.write(&rec).expect_err("long").field_name(),
            Some("ACO_LEGAL_NAME")
        );
        rec.aco_legal_name.clear();
        rec.beneficiary_link_key = Some(12_345_678_901);
        assert_eq!(
            w.write(&rec).expect_err("key").field_name(),
            Some("BENE_LINK_KEY")
        );
    }
}
