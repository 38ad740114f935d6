//! CCLF8, beneficiary demographics: 549-byte fixed-width records
//! (docs/REFERENCES.md, "CCLF8"; field names from the CCLF Information Packet).
//!
//! BCDA itself reads only the MBI; every field is typed here so that the
//! synthetic generator can write full-width, realistic files and the
//! importer can reject damaged ones.
//!
//! Records must be exactly 549 bytes. Right-trimmed records are **not**
//! padded back: real CCLF8 files are full width, and BCDA's old sandbox rows
//! (38 bytes, `1SG0A00AA001000044288         xxxxxxx`) are not a trimmed
//! record anyway — their bytes 33–38 would be an invalid `BENE_DOB`.
//! Accepting short records would also hide a truncated transfer.

use std::io::{BufRead, Write};

use time::Date;

use super::super::fixed::{Charset, DateLayout, Field, Fields, LineReader, RecordBuilder, quote};
use super::super::{FormatError, mbi};

/// The length of a CCLF8 record in bytes, without the line terminator.
pub const CCLF8_RECORD_LEN: usize = 549;

const MBI: Field = Field::new("BENE_MBI_ID", 0, 11);
const HICN: Field = Field::new("BENE_HIC_NUM", 11, 11);
const FIPS_STATE: Field = Field::new("BENE_FIPS_STATE_CD", 22, 2);
const FIPS_COUNTY: Field = Field::new("BENE_FIPS_CNTY_CD", 24, 3);
const ZIP: Field = Field::new("BENE_ZIP_CD", 27, 5);
const DOB: Field = Field::new("BENE_DOB", 32, 10);
const SEX: Field = Field::new("BENE_SEX_CD", 42, 1);
const RACE: Field = Field::new("BENE_RACE_CD", 43, 1);
const AGE: Field = Field::new("BENE_AGE", 44, 3);
const MDCR_STUS: Field = Field::new("BENE_MDCR_STUS_CD", 47, 2);
const DUAL_STUS: Field = Field::new("BENE_DUAL_STUS_CD", 49, 2);
const DEATH: Field = Field::new("BENE_DEATH_DT", 51, 10);
const RNG_BGN: Field = Field::new("BENE_RNG_BGN_DT", 61, 10);
const RNG_END: Field = Field::new("BENE_RNG_END_DT", 71, 10);
const FIRST: Field = Field::new("BENE_1ST_NAME", 81, 30);
const MIDDLE: Field = Field::new("BENE_MIDL_NAME", 111, 15);
const LAST: Field = Field::new("BENE_LAST_NAME", 126, 40);
const ENTLMT: Field = Field::new("BENE_ORGNL_ENTLMT_RSN_CD", 166, 1);
const BUYIN: Field = Field::new("BENE_ENTLMT_BUYIN_IND", 167, 1);
const PART_A: Field = Field::new("BENE_PART_A_ENRLMT_BGN_DT", 168, 10);
const PART_B: Field = Field::new("BENE_PART_B_ENRLMT_BGN_DT", 178, 10);
const LINES: [Field; 6] = [
    Field::new("BENE_LINE_1_ADR", 188, 45),
    Field::new("BENE_LINE_2_ADR", 233, 45),
    Field::new("BENE_LINE_3_ADR", 278, 40),
    Field::new("BENE_LINE_4_ADR", 318, 40),
    Field::new("BENE_LINE_5_ADR", 358, 40),
    Field::new("BENE_LINE_6_ADR", 398, 40),
];
const CITY: Field = Field::new("GEO_ZIP_PLC_NAME", 438, 100);
const STATE: Field = Field::new("GEO_USPS_STATE_CD", 538, 2);
const ZIP5: Field = Field::new("GEO_ZIP5_CD", 540, 5);
const ZIP4: Field = Field::new("GEO_ZIP4_CD", 545, 4);

/// `BENE_SEX_CD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SexCode {
    /// `0`.
    Unknown,
    /// `1`.
    Male,
    /// `2`.
    Female,
}

impl SexCode {
    /// The `BENE_SEX_CD` digit as the file writes it.
    pub fn code(self) -> char {
        match self {
            SexCode::Unknown => '0',
            SexCode::Male => '1',
            SexCode::Female => '2',
        }
    }

    fn from_code(c: char) -> Option<Self> {
        match c {
            '0' => Some(SexCode::Unknown),
            '1' => Some(SexCode::Male),
            '2' => Some(SexCode::Female),
            _ => None,
        }
    }
}

/// One CCLF8 record. Text fields hold printable ASCII with trailing padding
/// removed; codes are blank (`""` / `None`) or of the charset noted; dates
/// are `YYYY-MM-DD` in the file, blank as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cclf8Record {
    /// `BENE_MBI_ID` (1–11): a valid MBI, real or synthetic ([`mbi`]).
    pub mbi: String,
    /// `BENE_HIC_NUM` (12–22): the legacy HICN, capitals and digits, or blank.
    pub hicn: String,
    /// `BENE_FIPS_STATE_CD` (23–24): 2 digits or blank.
    pub fips_state_code: String,
    /// `BENE_FIPS_CNTY_CD` (25–27): 3 digits or blank.
    pub fips_county_code: String,
    /// `BENE_ZIP_CD` (28–32): 5 digits or blank.
    pub zip_code: String,
    /// `BENE_DOB` (33–42).
    pub birth_date: Option<Date>,
    /// `BENE_SEX_CD` (43): 0, 1, 2 or blank.
    pub sex: Option<SexCode>,
    /// `BENE_RACE_CD` (44): 0–6 (unknown, white, black, other, Asian,
    /// Hispanic, North American native) or blank.
    pub race_code: Option<u8>,
    /// `BENE_AGE` (45–47): 0–999, zero-padded, or blank.
    pub age: Option<u16>,
    /// `BENE_MDCR_STUS_CD` (48–49): 2 digits (`10`, `11`, `20`, `21`, `31`) or blank.
    pub medicare_status_code: String,
    /// `BENE_DUAL_STUS_CD` (50–51): 2 capitals/digits (`00`–`10`, `NA`) or blank.
    pub dual_status_code: String,
    /// `BENE_DEATH_DT` (52–61).
    pub death_date: Option<Date>,
    /// `BENE_RNG_BGN_DT` (62–71): start of the record's validity range.
    pub range_begin_date: Option<Date>,
    /// `BENE_RNG_END_DT` (72–81).
    pub range_end_date: Option<Date>,
    /// `BENE_1ST_NAME` (82–111).
    pub first_name: String,
    /// `BENE_MIDL_NAME` (112–126).
    pub middle_name: String,
    /// `BENE_LAST_NAME` (127–166).
    pub last_name: String,
    /// `BENE_ORGNL_ENTLMT_RSN_CD` (167): 0–3 (old age, disability, ESRD,
    /// disability and ESRD) or blank.
    pub original_entitlement_reason_code: Option<u8>,
    /// `BENE_ENTLMT_BUYIN_IND` (168): one capital or digit (`0`–`3`,
    /// `A`–`C`) or blank.
    pub entitlement_buyin_indicator: Option<char>,
    /// `BENE_PART_A_ENRLMT_BGN_DT` (169–178).
    pub part_a_start_date: Option<Date>,
    /// `BENE_PART_B_ENRLMT_BGN_DT` (179–188).
    pub part_b_start_date: Option<Date>,
    /// `BENE_LINE_1_ADR` … `BENE_LINE_6_ADR` (189–438): widths 45, 45, 40,
    /// 40, 40, 40.
    pub address_lines: [String; 6],
    /// `GEO_ZIP_PLC_NAME` (439–538): the city.
    pub city: String,
    /// `GEO_USPS_STATE_CD` (539–540): 2 capitals or blank.
    pub state: String,
    /// `GEO_ZIP5_CD` (541–545): 5 digits or blank.
    pub zip5: String,
    /// `GEO_ZIP4_CD` (546–549): 4 digits or blank.
    pub zip4: String,
}

impl Cclf8Record {
    /// Parses one record (without its line terminator); `line` is used in
    /// errors.
    pub fn parse(record: &[u8], line: u64) -> Result<Self, FormatError> {
        check_len(record, line)?;
        let f = Fields::new(record, line);
        let mbi = f.text(MBI)?;
        if !mbi::is_valid_mbi(&mbi) {
            return Err(f.err(MBI, format!("invalid MBI {}", quote(f.raw(MBI)))));
        }
        let sex = match f.char_code(SEX, Charset::Digits)? {
            None => None,
            Some(c) => Some(SexCode::from_code(c).ok_or_else(|| {
                f.err(
                    SEX,
                    format!("invalid sex code {c:?} (expected 0, 1, 2 or blank)"),
                )
            })?),
        };
        let race_code = small_code(&f, RACE, 6)?;
        let original_entitlement_reason_code = small_code(&f, ENTLMT, 3)?;
        let age = f
            .number(AGE)?
            .map(|n| u16::try_from(n).map_err(|_| f.err(AGE, "age out of range")))
            .transpose()?;
        let [l1, l2, l3, l4, l5, l6] = LINES;
        Ok(Self {
            mbi,
            hicn: f.code(HICN, Charset::Alnum)?,
            fips_state_code: f.full_code(FIPS_STATE, Charset::Digits)?,
            fips_county_code: f.full_code(FIPS_COUNTY, Charset::Digits)?,
            zip_code: f.full_code(ZIP, Charset::Digits)?,
            birth_date: f.iso_date(DOB)?,
            sex,
            race_code,
            age,
            medicare_status_code: f.full_code(MDCR_STUS, Charset::Digits)?,
            dual_status_code: f.full_code(DUAL_STUS, Charset::Alnum)?,
            death_date: f.iso_date(DEATH)?,
            range_begin_date: f.iso_date(RNG_BGN)?,
            range_end_date: f.iso_date(RNG_END)?,
            first_name: f.text(FIRST)?,
            middle_name: f.text(MIDDLE)?,
            last_name: f.text(LAST)?,
            original_entitlement_reason_code,
            entitlement_buyin_indicator: f.char_code(BUYIN, Charset::Alnum)?,
            part_a_start_date: f.iso_date(PART_A)?,
            part_b_start_date: f.iso_date(PART_B)?,
            address_lines: [
                f.text(l1)?,
                f.text(l2)?,
                f.text(l3)?,
                f.text(l4)?,
                f.text(l5)?,
                f.text(l6)?,
            ],
            city: f.text(CITY)?,
            state: f.full_code(STATE, Charset::Letters)?,
            zip5: f.full_code(ZIP5, Charset::Digits)?,
            zip4: f.full_code(ZIP4, Charset::Digits)?,
        })
    }

    /// The 549-byte record, space-padded, without a line terminator. A value
    /// that does not fit its field, or breaks its field's rules, is an error
    /// naming the field (never truncated).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        if !mbi::is_valid_mbi(&self.mbi) {
            return Err(FormatError::field(
                0,
                MBI.name,
                format!("invalid MBI {:?}", self.mbi),
            ));
        }
        let mut b = RecordBuilder::new(CCLF8_RECORD_LEN);
        b.text(MBI, &self.mbi)?;
        b.code(HICN, &self.hicn, Charset::Alnum)?;
        b.full_code(FIPS_STATE, &self.fips_state_code, Charset::Digits)?;
        b.full_code(FIPS_COUNTY, &self.fips_county_code, Charset::Digits)?;
        b.full_code(ZIP, &self.zip_code, Charset::Digits)?;
        b.date(DOB, self.birth_date, DateLayout::Iso)?;
        b.char_code(SEX, self.sex.map(SexCode::code), Charset::Digits)?;
        put_small_code(&mut b, RACE, self.race_code, 6)?;
        b.number(AGE, self.age.map(u64::from), true)?;
        b.full_code(MDCR_STUS, &self.medicare_status_code, Charset::Digits)?;
        b.full_code(DUAL_STUS, &self.dual_status_code, Charset::Alnum)?;
        b.date(DEATH, self.death_date, DateLayout::Iso)?;
        b.date(RNG_BGN, self.range_begin_date, DateLayout::Iso)?;
        b.date(RNG_END, self.range_end_date, DateLayout::Iso)?;
        b.text(FIRST, &self.first_name)?;
        b.text(MIDDLE, &self.middle_name)?;
        b.text(LAST, &self.last_name)?;
        put_small_code(&mut b, ENTLMT, self.original_entitlement_reason_code, 3)?;
        b.char_code(BUYIN, self.entitlement_buyin_indicator, Charset::Alnum)?;
        b.date(PART_A, self.part_a_start_date, DateLayout::Iso)?;
        b.date(PART_B, self.part_b_start_date, DateLayout::Iso)?;
        for (field, value) in LINES.iter().zip(&self.address_lines) {
            b.text(*field, value)?;
        }
        b.text(CITY, &self.city)?;
        b.full_code(STATE, &self.state, Charset::Letters)?;
        b.full_code(ZIP5, &self.zip5, Charset::Digits)?;
        b.full_code(ZIP4, &self.zip4, Charset::Digits)?;
        Ok(b.finish(CCLF8_RECORD_LEN))
    }

    /// Writes the record and `\n`.
    pub fn write<W: Write + ?Sized>(&self, out: &mut W) -> Result<(), FormatError> {
        let mut rec = self.encode()?;
        rec.push(b'\n');
        out.write_all(&rec)?;
        Ok(())
    }
}

fn check_len(record: &[u8], line: u64) -> Result<(), FormatError> {
    match record.len() {
        CCLF8_RECORD_LEN => Ok(()),
        n if n < CCLF8_RECORD_LEN => Err(FormatError::line(
            line,
            format!(
                "CCLF8 record is {n} bytes, expected {CCLF8_RECORD_LEN}: too short (records are fixed width; \
                 right-trimmed or truncated records, like the 38-byte rows of BCDA's old sandbox files, are not accepted)"
            ),
        )),
        n => Err(FormatError::line(
            line,
            format!("CCLF8 record is {n} bytes, expected {CCLF8_RECORD_LEN}: too long"),
        )),
    }
}

/// A one-digit code no greater than `max`, or blank.
fn small_code(f: &Fields<'_>, field: Field, max: u8) -> Result<Option<u8>, FormatError> {
    match f.number(field)? {
        None => Ok(None),
        Some(n) if n <= u64::from(max) => Ok(u8::try_from(n).ok()),
        Some(n) => Err(FormatError::field(
            f.line(),
            field.name,
            format!("invalid code \"{n}\" (expected 0-{max} or blank)"),
        )),
    }
}

fn put_small_code(
    b: &mut RecordBuilder,
    field: Field,
    value: Option<u8>,
    max: u8,
) -> Result<(), FormatError> {
    if let Some(n) = value
        && n > max
    {
        return Err(FormatError::field(
            0,
            field.name,
            format!("invalid code {n} (expected 0-{max} or blank)"),
        ));
    }
    b.number(field, value.map(u64::from), false)
}

/// Streams CCLF8 records from a reader: one [`Cclf8Record`] per line,
/// `\n` or `\r\n` line ends. Blank lines are errors (a CCLF8 line is a
/// record). The first error ends the iteration.
///
/// With [`Cclf8Reader::expect_count`] the reader also checks the count the
/// CCLF0 declares: a record beyond it fails at that line, and a shortfall
/// fails from the final `next()`. (BCDA fails only on too many records; a
/// shortfall is treated as an error here because it means a truncated
/// file.)
pub struct Cclf8Reader<R> {
    lines: LineReader<R>,
    expected: Option<u64>,
    count: u64,
    done: bool,
}

impl<R: BufRead> Cclf8Reader<R> {
    /// Reads records from `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            // One byte over a record is enough to tell "too long".
            lines: LineReader::new(reader, CCLF8_RECORD_LEN + 1),
            expected: None,
            count: 0,
            done: false,
        }
    }

    /// Requires exactly `count` records (the CCLF0's declared count).
    pub fn expect_count(mut self, count: u64) -> Self {
        self.expected = Some(count);
        self
    }

    /// How many records have been read so far.
    pub fn records_read(&self) -> u64 {
        self.count
    }

    fn read_next(&mut self) -> Result<Option<Cclf8Record>, FormatError> {
        let Some((line, bytes)) = self.lines.next_line()? else {
            return match self.expected {
                Some(n) if n != self.count => Err(FormatError::file(format!(
                    "CCLF8 has {} records but its CCLF0 declares {n}",
                    self.count
                ))),
                _ => Ok(None),
            };
        };
        if bytes.is_empty() {
            return Err(FormatError::line(
                line,
                "blank line in CCLF8 (every line must be a record)",
            ));
        }
        self.count += 1;
        if let Some(n) = self.expected
            && self.count > n
        {
            return Err(FormatError::line(
                line,
                format!("CCLF8 has more records than the {n} its CCLF0 declares"),
            ));
        }
        Cclf8Record::parse(bytes, line).map(Some)
    }
}

impl<R: BufRead> Iterator for Cclf8Reader<R> {
    type Item = Result<Cclf8Record, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.read_next();
        crate::formats::fixed::fused_next(&mut self.done, result)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::date;

    /// A fully populated record.
    pub(crate) fn sample(mbi: &str) -> Cclf8Record {
        Cclf8Record {
            mbi: mbi.to_owned(),
            hicn: "T01000000A".to_owned(),
            fips_state_code: "24".to_owned(),
            fips_county_code: "005".to_owned(),
            zip_code: "21201".to_owned(),
            birth_date: Some(date!(1948 - 03 - 17)),
            sex: Some(SexCode::Female),
            race_code: Some(1),
            age: Some(77),
            medicare_status_code: "10".to_owned(),
            dual_status_code: "NA".to_owned(),
            death_date: None,
            range_begin_date: Some(date!(2024 - 01 - 01)),
            range_end_date: Some(date!(9999 - 12 - 31)),
            first_name: "JANE".to_owned(),
            middle_name: "Q".to_owned(),
            last_name: "O'BRIEN-SMITH".to_owned(),
            original_entitlement_reason_code: Some(0),
            entitlement_buyin_indicator: Some('C'),
            part_a_start_date: Some(date!(2013 - 03 - 01)),
            part_b_start_date: Some(date!(2013 - 03 - 01)),
            address_lines: [
                "101 MAIN ST".to_owned(),
                "APT 4".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
            city: "BALTIMORE".to_owned(),
            state: "MD".to_owned(),
            zip5: "21201".to_owned(),
            zip4: "1234".to_owned(),
        }
    }

    fn encoded(rec: &Cclf8Record) -> Vec<u8> {
        rec.encode().expect("encodes")
    }

    #[test]
    fn round_trip_full_and_minimal() {
        for rec in [
            sample("1S00E00AA00"),
            Cclf8Record {
                mbi: "1EG4TE5MK73".to_owned(),
                ..Cclf8Record::default()
            },
        ] {
            let bytes = encoded(&rec);
            assert_eq!(bytes.len(), CCLF8_RECORD_LEN);
            assert_eq!(Cclf8Record::parse(&bytes, 1).expect("parses"), rec);
        }
    }

    #[test]
    fn layout_offsets() {
        let bytes = encoded(&sample("1S00E00AA00"));
        assert_eq!(&bytes[0..11], b"1S00E00AA00");
        assert_eq!(&bytes[11..22], b"T01000000A ");
        assert_eq!(&bytes[32..42], b"1948-03-17");
        assert_eq!(&bytes[42..47], b"21077");
        assert_eq!(&bytes[81..85], b"JANE");
        assert_eq!(&bytes[166..168], b"0C");
        assert_eq!(&bytes[188..199], b"101 MAIN ST");
        assert_eq!(&bytes[438..447], b"BALTIMORE");
        assert_eq!(&bytes[538..549], b"MD212011234");
    }

    #[test]
    fn write_adds_newline() {
        let mut out = Vec::new();
        sample("1S00E00AA00").write(&mut out).expect("writes");
        assert_eq!(out.len(), CCLF8_RECORD_LEN + 1);
        assert_eq!(out.last(), Some(&b'\n'));
    }

    #[test]
    fn too_long_values_are_errors_not_truncated() {
        let mut rec = sample("1S00E00AA00");
        rec.first_name = "X".repeat(31);
        let e = rec.encode().expect_err("too long");
        assert_eq!(e.field_name(), Some("BENE_1ST_NAME"));
        let mut rec = sample("1S00E00AA00");
        rec.zip5 = "2120".to_owned();
        assert_eq!(
            rec.encode().expect_err("short zip").field_name(),
            Some("GEO_ZIP5_CD")
        );
        let mut rec = sample("1S00E00AA00");
        rec.race_code = Some(7);
        assert_eq!(
            rec.encode().expect_err("race").field_name(),
            Some("BENE_RACE_CD")
        );
        let mut rec = sample("1S00E00AA00");
        rec.mbi = "bad".to_owned();
        assert_eq!(
            rec.encode().expect_err("mbi").field_name(),
            Some("BENE_MBI_ID")
        );
        let mut rec = sample("1S00E00AA00");
        rec.city = "MÜNCHEN".to_owned();
        assert_eq!(
            rec.encode().expect_err("ascii").field_name(),
            Some("GEO_ZIP_PLC_NAME")
        );
    }

    fn with(bytes: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b[at..at + value.len()].copy_from_slice(value);
        b
    }

    #[test]
    fn malformed_fields_name_line_and_field() {
        let good = encoded(&sample("1S00E00AA00"));
        for (at, value, field) in [
            (0, &b"1EG4TE5MK7A"[..], "BENE_MBI_ID"),
            (32, b"2019-13-01", "BENE_DOB"),
            (32, b"19480317  ", "BENE_DOB"),
            (42, b"3", "BENE_SEX_CD"),
            (43, b"X", "BENE_RACE_CD"),
            (44, b"7A7", "BENE_AGE"),
            (22, b"2 ", "BENE_FIPS_STATE_CD"),
            (51, b"2020-02-30", "BENE_DEATH_DT"),
            (81, b"\xc3\xa9", "BENE_1ST_NAME"),
            (538, b"md", "GEO_USPS_STATE_CD"),
            (545, b"12a4", "GEO_ZIP4_CD"),
        ] {
            let bad = with(&good, at, value);
            let e = Cclf8Record::parse(&bad, 7).expect_err(field);
            assert_eq!((e.line_number(), e.field_name()), (7, Some(field)), "{e}");
        }
        let e = Cclf8Record::parse(&with(&good, 32, b"2019-13-01"), 12).expect_err("date");
        assert_eq!(
            e.to_string(),
            "line 12, field BENE_DOB: invalid date \"2019-13-01\" (expected YYYY-MM-DD)"
        );
    }

    #[test]
    fn reader_streams_crlf_and_lf() {
        let mut data = Vec::new();
        sample("1S00E00AA00").write(&mut data).expect("writes");
        data.extend(encoded(&sample("1SG0A00AA00")));
        data.extend(b"\r\n");
        data.extend(encoded(&sample("4SM0A00AA00"))); // no final newline
        let recs: Vec<_> = Cclf8Reader::new(&data[..])
            .expect_count(3)
            .collect::<Result<_, _>>()
            .expect("reads");
        let mbis: Vec<_> = recs.iter().map(|r| r.mbi.as_str()).collect();
        assert_eq!(mbis, ["1S00E00AA00", "1SG0A00AA00", "4SM0A00AA00"]);
    }

    fn first_error<R: BufRead>(reader: Cclf8Reader<R>) -> FormatError {
        reader.filter_map(Result::err).next().expect("an error")
    }

    #[test]
    fn reader_rejects_short_long_and_blank_lines() {
        let good = encoded(&sample("1S00E00AA00"));
        let sandbox = b"1SG0A00AA001000044288         xxxxxxx\n";
        let e = first_error(Cclf8Reader::new(&sandbox[..]));
        assert_eq!(e.line_number(), 1);
        assert!(
            e.to_string().contains("37 bytes, expected 549: too short"),
            "{e}"
        );
        // A right-trimmed record is too short as well.
        let mut trimmed = encoded(&Cclf8Record {
            mbi: "1S00E00AA00".to_owned(),
            ..Cclf8Record::default()
        });
        trimmed.truncate(11);
        trimmed.push(b'\n');
        assert!(
            first_error(Cclf8Reader::new(&trimmed[..]))
                .to_string()
                .contains("too short")
        );
        let mut long = good.clone();
        long.extend(b"  \n");
        assert!(
            first_error(Cclf8Reader::new(&long[..]))
                .to_string()
                .contains("too long")
        );
        let mut huge = good.clone();
        huge.extend(vec![b' '; 10_000]);
        assert_eq!(first_error(Cclf8Reader::new(&huge[..])).line_number(), 1);
        let mut blank = good.clone();
        blank.extend(b"\n\n");
        blank.extend(&good);
        assert_eq!(first_error(Cclf8Reader::new(&blank[..])).line_number(), 2);
    }

    #[test]
    fn reader_checks_declared_count() {
        let mut data = Vec::new();
        for m in ["1S00E00AA00", "1S00E00AA01"] {
            sample(m).write(&mut data).expect("writes");
        }
        let e = first_error(Cclf8Reader::new(&data[..]).expect_count(1));
        assert_eq!(e.line_number(), 2);
        assert!(e.to_string().contains("more records than the 1"), "{e}");
        let e = first_error(Cclf8Reader::new(&data[..]).expect_count(3));
        assert_eq!(
            e.to_string(),
            "CCLF8 has 2 records but its CCLF0 declares 3"
        );
        let mut r = Cclf8Reader::new(&data[..]).expect_count(2);
        assert_eq!(r.by_ref().filter(Result::is_ok).count(), 2);
        assert_eq!(r.records_read(), 2);
        assert!(r.next().is_none());
    }

    #[test]
    fn reader_stops_after_first_error() {
        let mut data = b"short\n".to_vec();
        sample("1S00E00AA00").write(&mut data).expect("writes");
        let mut r = Cclf8Reader::new(&data[..]);
        assert!(matches!(r.next(), Some(Err(_))));
        assert!(r.next().is_none());
    }
}
