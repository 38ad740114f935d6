//! CCLF9, the beneficiary identifier cross-reference: 55-byte records
//! (docs/REFERENCES.md, "CCLF9"). BCDA no longer imports it; the sandbox packager
//! still ships one, so the generator can too.

use std::io::Write;

use time::Date;

use super::super::FormatError;
use super::super::fixed::{Charset, DateLayout, Field, Fields, RecordBuilder};

/// The length of a CCLF9 record in bytes, without the line terminator.
pub const CCLF9_RECORD_LEN: usize = 55;

const XREF_IND: Field = Field::new("XREF_IND", 0, 1);
const CRNT_NUM: Field = Field::new("CRNT_NUM", 1, 11);
const PRVS_NUM: Field = Field::new("PRVS_NUM", 12, 11);
const PRVS_EFCTV: Field = Field::new("PRVS_ID_EFCTV_DT", 23, 10);
const PRVS_OBSLT: Field = Field::new("PRVS_ID_OBSLT_DT", 33, 10);
const RRB_NUM: Field = Field::new("BENE_RRB_NUM", 43, 12);

/// Which kind of identifier a CCLF9 row cross-references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XrefIndicator {
    /// `H`: legacy HICNs.
    Hicn,
    /// `M`: MBIs.
    Mbi,
}

/// One CCLF9 record: a beneficiary's current and previous identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cclf9Record {
    /// `XREF_IND` (1).
    pub xref_indicator: XrefIndicator,
    /// `CRNT_NUM` (2–12): the current identifier, capitals and digits.
    pub current_id: String,
    /// `PRVS_NUM` (13–23): the previous identifier, capitals and digits.
    pub previous_id: String,
    /// `PRVS_ID_EFCTV_DT` (24–33), `YYYY-MM-DD`.
    pub previous_id_effective_date: Option<Date>,
    /// `PRVS_ID_OBSLT_DT` (34–43), `YYYY-MM-DD`.
    pub previous_id_obsolete_date: Option<Date>,
    /// `BENE_RRB_NUM` (44–55): Railroad Retirement Board number, or blank.
    pub rrb_number: String,
}

impl Cclf9Record {
    /// The 55-byte record, space-padded, without a line terminator.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let mut b = RecordBuilder::new(CCLF9_RECORD_LEN);
        let ind = match self.xref_indicator {
            XrefIndicator::Hicn => "H",
            XrefIndicator::Mbi => "M",
        };
        b.text(XREF_IND, ind)?;
        b.code(CRNT_NUM, &self.current_id, Charset::Alnum)?;
        b.code(PRVS_NUM, &self.previous_id, Charset::Alnum)?;
        b.date(PRVS_EFCTV, self.previous_id_effective_date, DateLayout::Iso)?;
        b.date(PRVS_OBSLT, self.previous_id_obsolete_date, DateLayout::Iso)?;
        b.code(RRB_NUM, &self.rrb_number, Charset::Alnum)?;
        Ok(b.finish(CCLF9_RECORD_LEN))
    }

    /// Writes the record and `\n`.
    pub fn write<W: Write + ?Sized>(&self, out: &mut W) -> Result<(), FormatError> {
        let mut rec = self.encode()?;
        rec.push(b'\n');
        out.write_all(&rec)?;
        Ok(())
    }

    /// Parses one record (without its line terminator).
    pub fn parse(record: &[u8], line: u64) -> Result<Self, FormatError> {
        if record.len() != CCLF9_RECORD_LEN {
            return Err(FormatError::line(
                line,
                format!(
                    "CCLF9 record is {} bytes, expected {CCLF9_RECORD_LEN}",
                    record.len()
                ),
            ));
        }
        let f = Fields::new(record, line);
        let xref_indicator = match f.raw(XREF_IND) {
            b"H" => XrefIndicator::Hicn,
            b"M" => XrefIndicator::Mbi,
            _ => return Err(f.err(XREF_IND, "expected H or M")),
        };
        Ok(Self {
            xref_indicator,
            current_id: f.code(CRNT_NUM, Charset::Alnum)?,
            previous_id: f.code(PRVS_NUM, Charset::Alnum)?,
            previous_id_effective_date: f.iso_date(PRVS_EFCTV)?,
            previous_id_obsolete_date: f.iso_date(PRVS_OBSLT)?,
            rrb_number: f.code(RRB_NUM, Charset::Alnum)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn round_trip() {
        let rec = Cclf9Record {
            xref_indicator: XrefIndicator::Mbi,
            current_id: "1S00E00AA00".to_owned(),
            previous_id: "1S00E00AA01".to_owned(),
            previous_id_effective_date: Some(date!(2019 - 01 - 01)),
            previous_id_obsolete_date: Some(date!(2020 - 06 - 30)),
            rrb_number: String::new(),
        };
        let bytes = rec.encode().expect("encodes");
        assert_eq!(bytes.len(), CCLF9_RECORD_LEN);
        assert_eq!(&bytes[..23], b"M1S00E00AA001S00E00AA01");
        assert_eq!(&bytes[23..43], b"2019-01-012020-06-30");
        assert_eq!(Cclf9Record::parse(&bytes, 1).expect("parses"), rec);
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(
            Cclf9Record::parse(&bad, 4).expect_err("ind").field_name(),
            Some("XREF_IND")
        );
        assert!(Cclf9Record::parse(&bytes[..54], 1).is_err());
        let mut long = rec.clone();
        long.rrb_number = "1234567890123".to_owned();
        assert_eq!(
            long.encode().expect_err("long").field_name(),
            Some("BENE_RRB_NUM")
        );
    }
}
