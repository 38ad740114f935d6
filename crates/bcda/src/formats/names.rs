//! BCDA file names (docs/REFERENCES.md, "File names"): CCLF archives and their
//! members, 1-800-MEDICARE opt-out files and CSV attribution files.
//!
//! Every name ends in the stamp `D<yymmdd>.T<hhmmss><d>`. BCDA parses the
//! date and time with Go's layout `D060102.T150405` as UTC and ignores the
//! seventh time digit; the timestamp of a CCLF8 member is the attribution
//! date `_since` is compared with (docs/REFERENCES.md, "Attribution date").
//! The digit is kept here so a parsed name formats back to the same string.
//!
//! Parsing is of a bare file name, whole and exact (BCDA's regexes search
//! anywhere in a path; callers here pass `Path::file_name`).

use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::FormatError;
use crate::domain::AttributionKind;

/// Test (`T`) or production (`P`) file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `T`.
    Test,
    /// `P`.
    Production,
}

impl Environment {
    /// The name's first letter: `T` or `P`.
    pub fn letter(self) -> char {
        match self {
            Environment::Test => 'T',
            Environment::Production => 'P',
        }
    }

    fn from_part(part: &str) -> Option<Self> {
        match part {
            "T" => Some(Environment::Test),
            "P" => Some(Environment::Production),
            _ => None,
        }
    }
}

/// Which CCLF file of a package (`ZC<n>`); BCDA uses only 0 and 8, and the
/// sandbox packager adds 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CclfFileNumber {
    /// CCLF0, the summary of record counts and lengths.
    Cclf0,
    /// CCLF8, beneficiary demographics: the attributed MBIs.
    Cclf8,
    /// CCLF9, the beneficiary identifier cross-reference.
    Cclf9,
}

impl CclfFileNumber {
    /// The digit after `ZC` in a CCLF file name.
    pub fn digit(self) -> char {
        match self {
            CclfFileNumber::Cclf0 => '0',
            CclfFileNumber::Cclf8 => '8',
            CclfFileNumber::Cclf9 => '9',
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'0' => Some(CclfFileNumber::Cclf0),
            b'8' => Some(CclfFileNumber::Cclf8),
            b'9' => Some(CclfFileNumber::Cclf9),
            _ => None,
        }
    }
}

/// The `D<yymmdd>.T<hhmmss><d>` stamp ending every name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    timestamp: PrimitiveDateTime,
    digit: u8,
}

impl FileStamp {
    /// A stamp for `timestamp` (UTC, whole seconds; Go's two-digit years
    /// mean 1969–2068) with the extra seventh time digit `digit` (0–9).
    pub fn new(timestamp: PrimitiveDateTime, digit: u8) -> Result<Self, FormatError> {
        if !(1969..=2068).contains(&timestamp.year()) {
            return Err(FormatError::file(format!(
                "timestamp {timestamp} cannot be written with a two-digit year (1969-2068)"
            )));
        }
        if timestamp.nanosecond() != 0 {
            return Err(FormatError::file(format!(
                "timestamp {timestamp} has fractions of a second; names carry whole seconds"
            )));
        }
        if digit > 9 {
            return Err(FormatError::file(format!("stamp digit {digit} is not 0-9")));
        }
        Ok(Self { timestamp, digit })
    }

    /// The timestamp, UTC.
    pub fn timestamp(&self) -> PrimitiveDateTime {
        self.timestamp
    }

    /// The timestamp as an `OffsetDateTime` in UTC.
    pub fn utc(&self) -> OffsetDateTime {
        self.timestamp.assume_utc()
    }

    /// The seventh time digit, which BCDA ignores.
    pub fn digit(&self) -> u8 {
        self.digit
    }

    /// Parses the two name parts `D<yymmdd>` and `T<hhmmss><d>`.
    fn parse(d: &str, t: &str) -> Option<Self> {
        let d = d.strip_prefix('D')?.as_bytes();
        let t = t.strip_prefix('T')?.as_bytes();
        if d.len() != 6 || t.len() != 7 || !d.iter().chain(t).all(u8::is_ascii_digit) {
            return None;
        }
        let two = |s: &[u8], i: usize| (s[i] - b'0') * 10 + (s[i + 1] - b'0');
        let yy = i32::from(two(d, 0));
        // Go's `06`: 69-99 are 19yy, 00-68 are 20yy.
        let year = if yy >= 69 { 1900 + yy } else { 2000 + yy };
        let date =
            Date::from_calendar_date(year, Month::try_from(two(d, 2)).ok()?, two(d, 4)).ok()?;
        let time = Time::from_hms(two(t, 0), two(t, 2), two(t, 4)).ok()?;
        Some(Self {
            timestamp: PrimitiveDateTime::new(date, time),
            digit: t[6] - b'0',
        })
    }
}

impl fmt::Display for FileStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ts = self.timestamp;
        write!(
            f,
            "D{:02}{:02}{:02}.T{:02}{:02}{:02}{}",
            ts.year().rem_euclid(100),
            u8::from(ts.month()),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second(),
            self.digit
        )
    }
}

/// A CCLF package archive (zip) name: `(T|P).BCD.<cms id>.ZC(Y|R)<yy>.D<yymmdd>.T<hhmmss><d>`,
/// e.g. `P.BCD.A0001.ZCY18.D181120.T1000000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CclfArchiveName {
    /// The name's first letter: test (`T`) or production (`P`).
    pub environment: Environment,
    /// The ACO's CMS id, e.g. `A0001`.
    pub cms_id: String,
    /// The letter after `ZC`: `Y` default, `R` runout.
    pub kind: AttributionKind,
    /// The two-digit performance year, 0–99 (the sandbox packager puts a
    /// random jitter here, docs/REFERENCES.md, "Sandbox packages").
    pub performance_year: u8,
    /// The `D<yymmdd>.T<hhmmss><d>` stamp: the package's date and time.
    pub stamp: FileStamp,
}

impl CclfArchiveName {
    /// Parses an archive file name.
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        let bad = |why: &str| invalid_name("CCLF archive", name, why);
        let parts: Vec<&str> = name.split('.').collect();
        let [env, bcd, cms, zc, d, t] = parts[..] else {
            return Err(bad(
                "expected (T|P).BCD.<cms id>.ZC(Y|R)<yy>.D<yymmdd>.T<hhmmss><d>",
            ));
        };
        let environment =
            Environment::from_part(env).ok_or_else(|| bad("must start with T. or P."))?;
        if bcd != "BCD" {
            return Err(bad("the second part must be BCD"));
        }
        check_cms_id(cms).map_err(|why| bad(&why))?;
        let zc = zc.as_bytes();
        let (kind, performance_year) = match zc {
            [b'Z', b'C', k, y1, y2] => (
                AttributionKind::from_letter(*k).ok_or_else(|| bad("expected ZCY or ZCR"))?,
                two_digits(*y1, *y2)
                    .ok_or_else(|| bad("the performance year must be two digits"))?,
            ),
            _ => return Err(bad("expected ZC(Y|R)<yy> in the fourth part")),
        };
        let stamp =
            FileStamp::parse(d, t).ok_or_else(|| bad("invalid D<yymmdd>.T<hhmmss><d> stamp"))?;
        Ok(Self {
            environment,
            cms_id: cms.to_owned(),
            kind,
            performance_year,
            stamp,
        })
    }

    /// Checks that the fields make a name that parses back to them.
    pub fn check(&self) -> Result<(), FormatError> {
        check_fields("CCLF archive", &self.cms_id, self.performance_year)?;
        let s = self.to_string();
        match Self::parse(&s) {
            Ok(back) if back == *self => Ok(()),
            _ => Err(invalid_name("CCLF archive", &s, "does not round-trip")),
        }
    }

    /// The name of member `number` of this package, in the layout BCDA
    /// expects for this CMS id ([`MemberLayout::for_cms_id`]).
    pub fn member(&self, number: CclfFileNumber) -> CclfFileName {
        CclfFileName {
            environment: self.environment,
            cms_id: self.cms_id.clone(),
            layout: MemberLayout::for_cms_id(&self.cms_id),
            number,
            kind: self.kind,
            performance_year: self.performance_year,
            stamp: self.stamp,
        }
    }
}

impl fmt::Display for CclfArchiveName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.BCD.{}.ZC{}{:02}.{}",
            self.environment.letter(),
            self.cms_id,
            self.kind.letter(),
            self.performance_year,
            self.stamp
        )
    }
}

impl FromStr for CclfArchiveName {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// How a CCLF member name places the CMS id (docs/REFERENCES.md, "File names";
/// BCDA `getCCLFFileMetadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberLayout {
    /// `<env>.BCD.<cms id>.ZC…`: Shared Savings Program (`A####`) and IOTA.
    Bcd,
    /// `<env>.<cms id>.ACO.ZC…`: the older direct-to-ACO form, still used
    /// for NGACO `V###`, CKCC `C####`, KCF `K####`, DC `D####`,
    /// `TEST###` and `SBX…` ids.
    Aco,
    /// `<env>.<cms id>.ZC…`: CEC.
    Bare,
}

impl MemberLayout {
    /// The layout BCDA accepts for a CMS id: `BCD` for SSP `A####` and
    /// `IOTA###`, bare for `CEC`, `ACO` otherwise.
    pub fn for_cms_id(cms_id: &str) -> Self {
        let b = cms_id.as_bytes();
        let ssp = b.len() == 5 && b[0] == b'A' && b[1..].iter().all(u8::is_ascii_digit);
        let iota =
            b.len() == 7 && cms_id.starts_with("IOTA") && b[4..].iter().all(u8::is_ascii_digit);
        if ssp || iota {
            MemberLayout::Bcd
        } else if cms_id == "CEC" {
            MemberLayout::Bare
        } else {
            MemberLayout::Aco
        }
    }
}

/// A CCLF file (an archive member, or an unzipped file) name, e.g.
/// `P.BCD.A0001.ZC8Y18.D181120.T1000000` or `P.V994.ACO.ZC8Y18.D181120.T1000009`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CclfFileName {
    /// The name's first letter: test (`T`) or production (`P`).
    pub environment: Environment,
    /// The ACO's CMS id.
    pub cms_id: String,
    /// Where the CMS id sits in the name.
    pub layout: MemberLayout,
    /// CCLF0, 8 or 9.
    pub number: CclfFileNumber,
    /// The letter after the file number: `Y` default, `R` runout.
    pub kind: AttributionKind,
    /// The two-digit performance year, 0–99.
    pub performance_year: u8,
    /// The file's date and time: for CCLF8, the attribution date.
    pub stamp: FileStamp,
}

impl CclfFileName {
    /// Parses a CCLF file name.
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        let bad = |why: &str| invalid_name("CCLF file", name, why);
        let parts: Vec<&str> = name.split('.').collect();
        let (env, cms, layout, rest) = match parts[..] {
            [env, "BCD", cms, ref rest @ ..] if rest.len() == 3 => {
                (env, cms, MemberLayout::Bcd, rest)
            }
            [env, cms, "ACO", ref rest @ ..] if rest.len() == 3 => {
                (env, cms, MemberLayout::Aco, rest)
            }
            [env, cms, ref rest @ ..] if rest.len() == 3 && cms != "BCD" => {
                (env, cms, MemberLayout::Bare, rest)
            }
            _ => {
                return Err(bad(
                    "expected (T|P).BCD.<cms id>.ZC<n>(Y|R)<yy>.D<yymmdd>.T<hhmmss><d> or (T|P).<cms id>.ACO.ZC…",
                ));
            }
        };
        let environment =
            Environment::from_part(env).ok_or_else(|| bad("must start with T. or P."))?;
        check_cms_id(cms).map_err(|why| bad(&why))?;
        let (number, kind, performance_year) = match rest[0].as_bytes() {
            [b'Z', b'C', n, k, y1, y2] => (
                CclfFileNumber::from_byte(*n)
                    .ok_or_else(|| bad("only CCLF files 0, 8 and 9 are supported"))?,
                AttributionKind::from_letter(*k)
                    .ok_or_else(|| bad("the file kind must be Y or R"))?,
                two_digits(*y1, *y2)
                    .ok_or_else(|| bad("the performance year must be two digits"))?,
            ),
            _ => return Err(bad("expected ZC<n>(Y|R)<yy>")),
        };
        let stamp = FileStamp::parse(rest[1], rest[2])
            .ok_or_else(|| bad("invalid D<yymmdd>.T<hhmmss><d> stamp"))?;
        Ok(Self {
            environment,
            cms_id: cms.to_owned(),
            layout,
            number,
            kind,
            performance_year,
            stamp,
        })
    }

    /// Checks that the fields make a name that parses back to them.
    pub fn check(&self) -> Result<(), FormatError> {
        check_fields("CCLF file", &self.cms_id, self.performance_year)?;
        let s = self.to_string();
        match Self::parse(&s) {
            Ok(back) if back == *self => Ok(()),
            _ => Err(invalid_name("CCLF file", &s, "does not round-trip")),
        }
    }

    /// Whether the layout is the one BCDA accepts for this CMS id
    /// ([`MemberLayout::for_cms_id`]): [`CclfFileName::parse`] accepts any
    /// layout with any id, but BCDA rejects e.g. `P.A0001.ACO.ZC8…` because
    /// SSP files must be `P.BCD.A0001.ZC8…`.
    pub fn layout_matches_model(&self) -> bool {
        self.layout == MemberLayout::for_cms_id(&self.cms_id)
    }

    /// Whether two files belong to the same package: same environment, CMS
    /// id, kind, performance year and timestamp (the ignored seventh digit
    /// may differ).
    pub fn same_package(&self, other: &CclfFileName) -> bool {
        self.environment == other.environment
            && self.cms_id == other.cms_id
            && self.kind == other.kind
            && self.performance_year == other.performance_year
            && self.stamp.timestamp() == other.stamp.timestamp()
    }
}

impl fmt::Display for CclfFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = self.environment.letter();
        match self.layout {
            MemberLayout::Bcd => write!(f, "{env}.BCD.{}.", self.cms_id)?,
            MemberLayout::Aco => write!(f, "{env}.{}.ACO.", self.cms_id)?,
            MemberLayout::Bare => write!(f, "{env}.{}.", self.cms_id)?,
        }
        write!(
            f,
            "ZC{}{}{:02}.{}",
            self.number.digit(),
            self.kind.letter(),
            self.performance_year,
            self.stamp
        )
    }
}

impl FromStr for CclfFileName {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A 1-800-MEDICARE opt-out file name: `(T|P)#EFT.ON.ACO.NGD1800.DPRF.D<yymmdd>.T<hhmmss><d>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptOutFileName {
    /// The name's first letter: test (`T`) or production (`P`).
    pub environment: Environment,
    /// The file's date and time (`suppression_files.timestamp`).
    pub stamp: FileStamp,
}

const OPT_OUT_MIDDLE: &str = "#EFT.ON.ACO.NGD1800.DPRF.";

impl OptOutFileName {
    /// Parses an opt-out file name (`FRPD` and other file types are rejected).
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        let bad = |why: &str| invalid_name("opt-out file", name, why);
        let env = name
            .get(..1)
            .and_then(Environment::from_part)
            .ok_or_else(|| bad("must start with T# or P#"))?;
        let rest = name[1..]
            .strip_prefix(OPT_OUT_MIDDLE)
            .ok_or_else(|| bad("expected (T|P)#EFT.ON.ACO.NGD1800.DPRF.D<yymmdd>.T<hhmmss><d>"))?;
        let (d, t) = rest
            .split_once('.')
            .ok_or_else(|| bad("missing the D…T… stamp"))?;
        let stamp =
            FileStamp::parse(d, t).ok_or_else(|| bad("invalid D<yymmdd>.T<hhmmss><d> stamp"))?;
        Ok(Self {
            environment: env,
            stamp,
        })
    }
}

impl fmt::Display for OptOutFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{OPT_OUT_MIDDLE}{}",
            self.environment.letter(),
            self.stamp
        )
    }
}

impl FromStr for OptOutFileName {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The model a CSV attribution file name belongs to (docs/REFERENCES.md,
/// "File names"; BCDA `attribution_file.name_pattern` per ACO model).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CsvAttributionModel {
    /// TCOCMD: `(T|P).PCPB.M<yy><nn>.D….T…`. The name carries no CMS id
    /// (BCDA uses `CT000000`).
    Pcpb {
        /// The two digits after the performance year (`M2411` → 11).
        period: u8,
    },
    /// CDAC: `(T|P).BCD.DA<nnnn>.MBIY<yy>.D….T…`.
    Cdac {
        /// `DA` and four digits.
        cms_id: String,
    },
    /// GUIDE: `(T|P).GUIDE.<cms id>.Y<yy>.D….T…`.
    Guide {
        /// E.g. `GUIDE-0001`.
        cms_id: String,
    },
    /// ACCESS: `(T|P).ACCESS.<cms id>.Y<yy>.D….T…`.
    Access {
        /// E.g. `ACCES00001`.
        cms_id: String,
    },
}

/// A CSV attribution file name, e.g. `T.GUIDE.GUIDE-0001.Y25.D250630.T1000000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CsvAttributionName {
    /// The name's first letter: test (`T`) or production (`P`).
    pub environment: Environment,
    /// The model, with its CMS id when the name has one.
    pub model: CsvAttributionModel,
    /// The two digits after `Y` (`MBIY` for CDAC, `M` for PCPB), e.g. `Y25` → 25.
    pub performance_year: u8,
    /// The file's date and time: the attribution date.
    pub stamp: FileStamp,
}

impl CsvAttributionName {
    /// Parses a CSV attribution file name. Only the default (`Y`) form
    /// exists for these models.
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        let bad = |why: &str| invalid_name("CSV attribution", name, why);
        let parts: Vec<&str> = name.split('.').collect();
        let (env, model, performance_year, d, t) = match parts[..] {
            [env, "PCPB", m, d, t] => {
                let b = m.as_bytes();
                let (yy, period) = match b {
                    [b'M', y1, y2, p1, p2] => (two_digits(*y1, *y2), two_digits(*p1, *p2)),
                    _ => (None, None),
                };
                let (Some(yy), Some(period)) = (yy, period) else {
                    return Err(bad("expected M<yy><nn> after PCPB"));
                };
                (env, CsvAttributionModel::Pcpb { period }, yy, d, t)
            }
            [env, "BCD", cms, y, d, t] => {
                let b = cms.as_bytes();
                if !(b.len() == 6 && cms.starts_with("DA") && b[2..].iter().all(u8::is_ascii_digit))
                {
                    return Err(bad("the CDAC CMS id must be DA and four digits"));
                }
                let yy = year_part(y, "MBIY").ok_or_else(|| bad("expected MBIY<yy>"))?;
                (
                    env,
                    CsvAttributionModel::Cdac {
                        cms_id: cms.to_owned(),
                    },
                    yy,
                    d,
                    t,
                )
            }
            [env, model @ ("GUIDE" | "ACCESS"), cms, y, d, t] => {
                check_cms_id(cms).map_err(|why| bad(&why))?;
                let yy = year_part(y, "Y").ok_or_else(|| bad("expected Y<yy>"))?;
                let cms_id = cms.to_owned();
                let model = if model == "GUIDE" {
                    CsvAttributionModel::Guide { cms_id }
                } else {
                    CsvAttributionModel::Access { cms_id }
                };
                (env, model, yy, d, t)
            }
            _ => {
                return Err(bad(
                    "not a PCPB, CDAC (BCD.DA…), GUIDE or ACCESS attribution file name",
                ));
            }
        };
        let environment =
            Environment::from_part(env).ok_or_else(|| bad("must start with T. or P."))?;
        let stamp =
            FileStamp::parse(d, t).ok_or_else(|| bad("invalid D<yymmdd>.T<hhmmss><d> stamp"))?;
        Ok(Self {
            environment,
            model,
            performance_year,
            stamp,
        })
    }

    /// The CMS id in the name, if the model's names carry one.
    pub fn cms_id(&self) -> Option<&str> {
        match &self.model {
            CsvAttributionModel::Pcpb { .. } => None,
            CsvAttributionModel::Cdac { cms_id }
            | CsvAttributionModel::Guide { cms_id }
            | CsvAttributionModel::Access { cms_id } => Some(cms_id),
        }
    }
}

impl fmt::Display for CsvAttributionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = self.environment.letter();
        let yy = self.performance_year;
        match &self.model {
            CsvAttributionModel::Pcpb { period } => write!(f, "{env}.PCPB.M{yy:02}{period:02}.")?,
            CsvAttributionModel::Cdac { cms_id } => write!(f, "{env}.BCD.{cms_id}.MBIY{yy:02}.")?,
            CsvAttributionModel::Guide { cms_id } => write!(f, "{env}.GUIDE.{cms_id}.Y{yy:02}.")?,
            CsvAttributionModel::Access { cms_id } => write!(f, "{env}.ACCESS.{cms_id}.Y{yy:02}.")?,
        }
        write!(f, "{}", self.stamp)
    }
}

impl FromStr for CsvAttributionName {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn invalid_name(what: &str, name: &str, why: &str) -> FormatError {
    FormatError::file(format!("invalid {what} name {name:?}: {why}"))
}

fn two_digits(a: u8, b: u8) -> Option<u8> {
    (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
}

fn year_part(part: &str, prefix: &str) -> Option<u8> {
    match part.strip_prefix(prefix)?.as_bytes() {
        [a, b] => two_digits(*a, *b),
        _ => None,
    }
}

/// CMS ids in names: 1 to 20 capital letters, digits and hyphens (the forms
/// of `acos::validate_cms_id`, which also needs 3+ and a leading letter; the
/// name layer only has to keep the dots unambiguous).
fn check_cms_id(cms: &str) -> Result<(), String> {
    let ok = (1..=20).contains(&cms.len())
        && cms
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "CMS id {cms:?} must be 1 to 20 capital letters, digits and hyphens"
        ))
    }
}

fn check_fields(what: &str, cms_id: &str, performance_year: u8) -> Result<(), FormatError> {
    check_cms_id(cms_id).map_err(|why| FormatError::file(format!("invalid {what} name: {why}")))?;
    if performance_year > 99 {
        return Err(FormatError::file(format!(
            "invalid {what} name: performance year {performance_year} is not two digits"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn archive_name_round_trip() {
        let n = CclfArchiveName::parse("P.BCD.A0001.ZCY18.D181120.T1000000").expect("valid");
        assert_eq!(n.environment, Environment::Production);
        assert_eq!(n.cms_id, "A0001");
        assert_eq!(n.kind, AttributionKind::Default);
        assert_eq!(n.performance_year, 18);
        assert_eq!(n.stamp.timestamp(), datetime!(2018-11-20 10:00:00));
        assert_eq!(n.stamp.utc(), datetime!(2018-11-20 10:00:00 UTC));
        assert_eq!(n.to_string(), "P.BCD.A0001.ZCY18.D181120.T1000000");
        n.check().expect("round-trips");
        let r: CclfArchiveName = "T.BCD.A9990.ZCR99.D691231.T2359599".parse().expect("valid");
        assert_eq!(r.kind, AttributionKind::Runout);
        assert_eq!(r.stamp.timestamp(), datetime!(1969-12-31 23:59:59));
        assert_eq!(r.stamp.digit(), 9);
        assert_eq!(r.to_string(), "T.BCD.A9990.ZCR99.D691231.T2359599");
    }

    #[test]
    fn archive_name_rejects() {
        for bad in [
            "",
            "P.BCD.A0001.ZCY18.D181120.T100000", // six time digits
            "X.BCD.A0001.ZCY18.D181120.T1000000", // environment
            "P.XYZ.A0001.ZCY18.D181120.T1000000", // not BCD
            "P.BCD.A0001.ZCX18.D181120.T1000000", // kind
            "P.BCD.A0001.ZC8Y18.D181120.T1000000", // a member name
            "P.BCD.A0001.ZCY18.D181320.T1000000", // month 13
            "P.BCD.A0001.ZCY18.D181120.T2500000", // hour 25
            "P.BCD.a0001.ZCY18.D181120.T1000000", // lowercase id
            "P.BCD.A0001.ZCY18.D181120.T1000000.zip",
        ] {
            assert!(CclfArchiveName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn member_names_round_trip() {
        for (name, cms, layout, number) in [
            (
                "P.BCD.A0001.ZC8Y18.D181120.T1000000",
                "A0001",
                MemberLayout::Bcd,
                CclfFileNumber::Cclf8,
            ),
            (
                "P.BCD.A0001.ZC0Y18.D181120.T1000000",
                "A0001",
                MemberLayout::Bcd,
                CclfFileNumber::Cclf0,
            ),
            (
                "T.BCD.A9994.ZC9R07.D240102.T0304051",
                "A9994",
                MemberLayout::Bcd,
                CclfFileNumber::Cclf9,
            ),
            (
                "P.V994.ACO.ZC8Y18.D181120.T1000009",
                "V994",
                MemberLayout::Aco,
                CclfFileNumber::Cclf8,
            ),
            (
                "T.D0001.ACO.ZC0Y18.D181120.T1000009",
                "D0001",
                MemberLayout::Aco,
                CclfFileNumber::Cclf0,
            ),
            (
                "T.TEST001.ACO.ZC8Y18.D181120.T1000009",
                "TEST001",
                MemberLayout::Aco,
                CclfFileNumber::Cclf8,
            ),
            (
                "T.CEC.ZC8Y18.D181120.T1000009",
                "CEC",
                MemberLayout::Bare,
                CclfFileNumber::Cclf8,
            ),
        ] {
            let n = CclfFileName::parse(name).expect(name);
            assert_eq!(
                (n.cms_id.as_str(), n.layout, n.number),
                (cms, layout, number),
                "{name}"
            );
            assert_eq!(n.to_string(), name);
            n.check().expect(name);
        }
    }

    #[test]
    fn member_names_reject() {
        for bad in [
            "P.BCD.A0001.ZCY18.D181120.T1000000",  // archive name
            "P.BCD.A0001.ZC1Y18.D181120.T1000000", // CCLF1 unsupported
            "P.BCD.A0001.ZC8X18.D181120.T1000000",
            "P.BCD.ZC8Y18.D181120.T1000000",
            "ZC8",
            "T.A9990.ACO.ZC0Y",
            "P.BCD.A0001.ZC8Y18.D181120",
        ] {
            assert!(CclfFileName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn archive_members_and_packages() {
        let a = CclfArchiveName::parse("P.BCD.A0001.ZCY18.D181120.T1000000").expect("valid");
        let m8 = a.member(CclfFileNumber::Cclf8);
        assert_eq!(m8.to_string(), "P.BCD.A0001.ZC8Y18.D181120.T1000000");
        let m0 = a.member(CclfFileNumber::Cclf0);
        assert!(m8.same_package(&m0));
        let mut other = m0.clone();
        other.performance_year = 19;
        assert!(!m8.same_package(&other));
        assert!(m8.layout_matches_model());
        let old = CclfFileName::parse("P.A0001.ACO.ZC8Y18.D181120.T1000009").expect("parses");
        assert!(!old.layout_matches_model());
        let v = CclfArchiveName::parse("T.BCD.V994.ZCY18.D181120.T1000000").expect("valid");
        assert_eq!(
            v.member(CclfFileNumber::Cclf8).to_string(),
            "T.V994.ACO.ZC8Y18.D181120.T1000000"
        );
        assert_eq!(MemberLayout::for_cms_id("IOTA001"), MemberLayout::Bcd);
        assert_eq!(MemberLayout::for_cms_id("CEC"), MemberLayout::Bare);
    }

    #[test]
    fn check_catches_unwritable_fields() {
        let mut a = CclfArchiveName::parse("P.BCD.A0001.ZCY18.D181120.T1000000").expect("valid");
        a.performance_year = 100;
        assert!(a.check().is_err());
        a.performance_year = 18;
        a.cms_id = "A.1".to_owned();
        assert!(a.check().is_err());
        assert!(FileStamp::new(datetime!(2070-01-01 00:00:00), 0).is_err());
        assert!(FileStamp::new(datetime!(2020-01-01 00:00:00.5), 0).is_err());
        assert!(FileStamp::new(datetime!(2020-01-01 00:00:00), 10).is_err());
        let s = FileStamp::new(datetime!(2024-01-15 10:00:00), 0).expect("valid");
        assert_eq!(s.to_string(), "D240115.T1000000");
    }

    #[test]
    fn opt_out_names() {
        let n = OptOutFileName::parse("T#EFT.ON.ACO.NGD1800.DPRF.D190816.T0241390").expect("valid");
        assert_eq!(n.environment, Environment::Test);
        assert_eq!(n.stamp.timestamp(), datetime!(2019-08-16 02:41:39));
        assert_eq!(n.to_string(), "T#EFT.ON.ACO.NGD1800.DPRF.D190816.T0241390");
        for bad in [
            "T#EFT.ON.ACO.NGD1800.FRPD.D190816.T0241390",
            "X#EFT.ON.ACO.NGD1800.DPRF.D190816.T0241390",
            "T#EFT.ON.ACO.NGD1800.DPRF.D190816.T024139",
            "T#EFT.ON.ACO.NGD1800.DPRF.D190816",
            "",
        ] {
            assert!(OptOutFileName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_attribution_names() {
        for (name, cms, yy) in [
            ("T.BCD.DA0001.MBIY25.D250630.T1000000", Some("DA0001"), 25),
            (
                "T.GUIDE.GUIDE-0001.Y25.D250630.T1000000",
                Some("GUIDE-0001"),
                25,
            ),
            (
                "T.ACCESS.ACCES00001.Y25.D250630.T1000000",
                Some("ACCES00001"),
                25,
            ),
            ("P.PCPB.M2411.D181120.T1000000", None, 24),
        ] {
            let n = CsvAttributionName::parse(name).expect(name);
            assert_eq!(n.cms_id(), cms, "{name}");
            assert_eq!(n.performance_year, yy, "{name}");
            assert_eq!(n.to_string(), name);
        }
        let p = CsvAttributionName::parse("P.PCPB.M2411.D181120.T1000000").expect("valid");
        assert_eq!(p.model, CsvAttributionModel::Pcpb { period: 11 });
        assert_eq!(p.stamp.timestamp(), datetime!(2018-11-20 10:00:00));
        for bad in [
            "T.BCD.DA001.MBIY25.D250630.T1000000",
            "T.BCD.A0001.ZCY18.D181120.T1000000",
            "T.GUIDE.GUIDE-0001.R25.D250630.T1000000",
            "P.PCPB.M241.D181120.T1000000",
            "T.OTHER.X.Y25.D250630.T1000000",
        ] {
            assert!(CsvAttributionName::parse(bad).is_err(), "{bad}");
        }
    }
}
