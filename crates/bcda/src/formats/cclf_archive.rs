//! CCLF packages: the zip archive BCDA imports (docs/REFERENCES.md,
//! "CCLF archives"), and the same files unzipped.
//!
//! An archive named like `P.BCD.A0001.ZCY18.D181120.T1000000` holds one
//! CCLF0 and one CCLF8 member named like `P.BCD.A0001.ZC8Y18.D181120.T1000000`;
//! other members (the CCLF9 the sandbox packager adds, anything else) are
//! ignored, as BCDA skips names its inner-name pattern rejects. The CCLF0
//! and CCLF8 must be from the same package (environment, CMS id, kind,
//! performance year and timestamp agree). The CCLF8 is read as a stream
//! from the decompressing zip reader, so memory does not grow with it.
//!
//! Archives come from outside, so sizes are checked before anything is
//! decompressed: at most [`MAX_MEMBERS`] members, and a CCLF0 or CCLF8
//! whose declared uncompressed size is over its limit ([`MemberLimits`]) is
//! refused. Because a declared size can lie (a zip bomb), reading a member
//! also stops with an error at its limit ([`BoundedRead`]).

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

use zip::read::ZipFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::cclf::{
    CCLF0_LINE_LEN, CCLF8_RECORD_LEN, Cclf0Row, Cclf0Summary, Cclf8Reader, Cclf8Record, Cclf9Record,
};
use super::{FormatError, TooLarge};

/// Members an archive may list. A CCLF package holds two or three; a
/// thousand leaves room for anything a packager adds, while the zip
/// directory of a hostile archive with millions of entries is refused.
pub const MAX_MEMBERS: usize = 1000;

/// The largest uncompressed members read from an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberLimits {
    /// The CCLF0: a header and a few dozen 69-byte rows.
    pub cclf0: u64,
    /// The CCLF8: one 549-byte record per beneficiary.
    pub cclf8: u64,
}

impl Default for MemberLimits {
    /// CCLF0: 64 KiB, over ten times a CCLF0 with its maximum 64 rows.
    /// CCLF8: 1 GiB, about 1.95 million beneficiaries, several times the
    /// largest ACO's attribution (a few hundred thousand).
    fn default() -> Self {
        Self {
            cclf0: 64 * 1024,
            cclf8: 1024 * 1024 * 1024,
        }
    }
}

// The defaults must hold what they claim to.
const _: () = assert!(65 * (CCLF0_LINE_LEN as u64 + 2) < 64 * 1024);
const _: () = assert!(1_900_000 * (CCLF8_RECORD_LEN as u64 + 2) < 1024 * 1024 * 1024);

/// A reader that fails (with a [`TooLarge`] inside the I/O error) once
/// more than `limit` bytes come out of it, instead of trusting a declared
/// size.
#[derive(Debug)]
pub struct BoundedRead<R> {
    inner: R,
    left: u64,
    limit: u64,
    what: String,
}

impl<R: Read> BoundedRead<R> {
    /// Lets at most `limit` bytes of `inner` through; `what` names the
    /// stream in the error.
    pub fn new(inner: R, limit: u64, what: impl Into<String>) -> Self {
        Self {
            inner,
            left: limit,
            limit,
            what: what.into(),
        }
    }
}

impl<R: Read> Read for BoundedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the limit: the end of the stream is fine, one more byte is not.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(TooLarge {
                    what: self.what.clone(),
                    limit: self.limit,
                })),
            };
        }
        let max = usize::try_from(self.left).map_or(buf.len(), |left| left.min(buf.len()));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}
use super::names::{CclfArchiveName, CclfFileName, CclfFileNumber};

/// Where the writer is in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Cclf8,
    Cclf9,
}

/// Writes a CCLF package as a zip archive into any `Write + Seek`: CCLF8
/// records first, then optionally CCLF9 records, then
/// [`CclfArchiveWriter::finish`] adds the CCLF0 with the counts written.
/// Members are deflated and streamed; nothing is held in memory.
///
/// Member names follow [`CclfArchiveName::member`]. Members are written
/// without ZIP64, so a member is limited to 4 GiB (about 7.8 million CCLF8
/// records, far above any ACO).
pub struct CclfArchiveWriter<W: Write + Seek> {
    zip: ZipWriter<W>,
    name: CclfArchiveName,
    options: SimpleFileOptions,
    stage: Stage,
    cclf8_count: u64,
    cclf9_count: u64,
}

impl<W: Write + Seek> CclfArchiveWriter<W> {
    /// Starts the archive `name` and its CCLF8 member.
    pub fn new(out: W, name: &CclfArchiveName) -> Result<Self, FormatError> {
        name.check()?;
        let mut options =
            SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        // Stamp members with the package's own time (reproducible output);
        // outside the DOS date range, keep the zip crate's default.
        let ts = name.stamp.timestamp();
        if let Ok(year) = u16::try_from(ts.year())
            && let Ok(t) = zip::DateTime::from_date_and_time(
                year,
                u8::from(ts.month()),
                ts.day(),
                ts.hour(),
                ts.minute(),
                ts.second(),
            )
        {
            options = options.last_modified_time(t);
        }
        let mut zip = ZipWriter::new(out);
        zip.start_file(name.member(CclfFileNumber::Cclf8).to_string(), options)?;
        Ok(Self {
            zip,
            name: name.clone(),
            options,
            stage: Stage::Cclf8,
            cclf8_count: 0,
            cclf9_count: 0,
        })
    }

    /// Appends a CCLF8 record. All CCLF8 records come before any CCLF9 record.
    pub fn write_cclf8(&mut self, record: &Cclf8Record) -> Result<(), FormatError> {
        if self.stage != Stage::Cclf8 {
            return Err(FormatError::file(
                "CCLF8 records must be written before CCLF9 records",
            ));
        }
        record.write(&mut self.zip)?;
        self.cclf8_count += 1;
        Ok(())
    }

    /// Appends a CCLF9 record (the first one starts the CCLF9 member).
    pub fn write_cclf9(&mut self, record: &Cclf9Record) -> Result<(), FormatError> {
        if self.stage == Stage::Cclf8 {
            self.zip.start_file(
                self.name.member(CclfFileNumber::Cclf9).to_string(),
                self.options,
            )?;
            self.stage = Stage::Cclf9;
        }
        record.write(&mut self.zip)?;
        self.cclf9_count += 1;
        Ok(())
    }

    /// Writes the CCLF0 (a CCLF8 row, and a CCLF9 row if CCLF9 records were
    /// written), finishes the zip and returns the output.
    pub fn finish(mut self) -> Result<W, FormatError> {
        let mut rows = vec![Cclf0Row::cclf8(self.cclf8_count)];
        if self.stage == Stage::Cclf9 {
            rows.push(Cclf0Row::cclf9(self.cclf9_count));
        }
        self.zip.start_file(
            self.name.member(CclfFileNumber::Cclf0).to_string(),
            self.options,
        )?;
        Cclf0Summary { rows }.write(&mut self.zip)?;
        Ok(self.zip.finish()?)
    }
}

/// Reads a CCLF package archive: finds its CCLF0 and CCLF8, checks they
/// belong together, reads the summary, and streams the CCLF8 records
/// checked against the summary's count.
pub struct CclfArchiveReader<R: Read + Seek> {
    zip: ZipArchive<R>,
    limits: MemberLimits,
    archive_name: Option<CclfArchiveName>,
    cclf0_name: CclfFileName,
    cclf8_name: CclfFileName,
    cclf8_index: usize,
    summary: Cclf0Summary,
    declared: u64,
    ignored: Vec<String>,
}

impl<R: Read + Seek> CclfArchiveReader<R> {
    /// Opens an archive from a reader (its name unknown, so not checked).
    pub fn new(reader: R) -> Result<Self, FormatError> {
        Self::with_limits(reader, MemberLimits::default())
    }

    /// [`CclfArchiveReader::new`] with other member size limits.
    pub fn with_limits(reader: R, limits: MemberLimits) -> Result<Self, FormatError> {
        let mut zip = ZipArchive::new(reader)?;
        if zip.len() > MAX_MEMBERS {
            return Err(FormatError::file(format!(
                "archive lists {} members; a CCLF package holds a few (the limit is {MAX_MEMBERS})",
                zip.len()
            )));
        }
        let mut cclf0 = Vec::new();
        let mut cclf8 = Vec::new();
        let mut ignored = Vec::new();
        for i in 0..zip.len() {
            let full = match zip.name_for_index(i) {
                Some(Ok(name)) => name.into_owned(),
                // A name that is not UTF-8 cannot be a CCLF name.
                Some(Err(_)) => {
                    ignored.push(format!("(member {} with a non-UTF-8 name)", i + 1));
                    continue;
                }
                None => continue,
            };
            if full.ends_with('/') {
                continue; // a directory entry
            }
            // Members may sit in a folder inside the zip; the name is the last part.
            let base = full.rsplit('/').next().unwrap_or(&full);
            match CclfFileName::parse(base) {
                Ok(n) if n.number == CclfFileNumber::Cclf0 => cclf0.push((i, n)),
                Ok(n) if n.number == CclfFileNumber::Cclf8 => cclf8.push((i, n)),
                _ => ignored.push(full),
            }
        }
        let (cclf0_index, cclf0_name) = exactly_one("CCLF0", cclf0, &ignored)?;
        let (cclf8_index, cclf8_name) = exactly_one("CCLF8", cclf8, &ignored)?;
        if !cclf0_name.same_package(&cclf8_name) {
            return Err(FormatError::file(format!(
                "archive members {cclf0_name} and {cclf8_name} are not from the same package \
                 (environment, CMS id, kind, performance year and timestamp must agree)"
            )));
        }
        let in_cclf0 = |e: FormatError| e.context(format!("archive member {cclf0_name}"));
        check_declared_size(&mut zip, cclf8_index, &cclf8_name, limits.cclf8)?;
        let summary = {
            let member = bounded_member(&mut zip, cclf0_index, &cclf0_name, limits.cclf0)?;
            Cclf0Summary::read(BufReader::new(member)).map_err(in_cclf0)?
        };
        let declared = summary.cclf8_record_count().map_err(in_cclf0)?;
        Ok(Self {
            zip,
            limits,
            archive_name: None,
            cclf0_name,
            cclf8_name,
            cclf8_index,
            summary,
            declared,
            ignored,
        })
    }

    /// The archive's own name, when it was opened from a path.
    pub fn archive_name(&self) -> Option<&CclfArchiveName> {
        self.archive_name.as_ref()
    }

    /// The CCLF0 member's name.
    pub fn cclf0_name(&self) -> &CclfFileName {
        &self.cclf0_name
    }

    /// The CCLF8 member's name: its timestamp is the attribution date.
    pub fn cclf8_name(&self) -> &CclfFileName {
        &self.cclf8_name
    }

    /// The parsed CCLF0.
    pub fn summary(&self) -> &Cclf0Summary {
        &self.summary
    }

    /// Members that are neither the CCLF0 nor the CCLF8 (e.g. the CCLF9),
    /// for the caller to log.
    pub fn ignored_members(&self) -> &[String] {
        &self.ignored
    }

    /// Streams the CCLF8 records, decompressing as it goes; the reader
    /// fails if the count differs from the CCLF0's (see [`Cclf8Reader`]).
    /// May be called again to re-read from the start.
    #[allow(clippy::type_complexity)]
    pub fn cclf8_records(
        &mut self,
    ) -> Result<Cclf8Reader<BufReader<BoundedRead<ZipFile<'_, R>>>>, FormatError> {
        let member = bounded_member(
            &mut self.zip,
            self.cclf8_index,
            &self.cclf8_name,
            self.limits.cclf8,
        )?;
        Ok(Cclf8Reader::new(BufReader::new(member)).expect_count(self.declared))
    }
}

impl CclfArchiveReader<BufReader<File>> {
    /// Opens an archive file. Its file name must be a CCLF archive name
    /// (BCDA takes the CMS id from it) agreeing with the members on
    /// environment, CMS id, kind and performance year. (The timestamps are
    /// not compared: the archive's is the packaging time.)
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| FormatError::file(format!("{} has no file name", path.display())))?;
        let name = CclfArchiveName::parse(file_name)?;
        let file = File::open(path)?;
        let mut reader = Self::new(BufReader::new(file)).map_err(|e| e.context(file_name))?;
        let m = &reader.cclf8_name;
        let agrees = m.environment == name.environment
            && m.cms_id == name.cms_id
            && m.kind == name.kind
            && m.performance_year == name.performance_year;
        if !agrees {
            return Err(FormatError::file(format!(
                "archive {file_name} holds member {m}, which does not agree on environment, CMS id, kind or performance year"
            )));
        }
        reader.archive_name = Some(name);
        Ok(reader)
    }
}

/// Refuses a member whose declared uncompressed size is over `limit`,
/// before a byte of it is decompressed.
fn check_declared_size<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    name: &CclfFileName,
    limit: u64,
) -> Result<(), FormatError> {
    let declared = zip.by_index_raw(index)?.size();
    if declared > limit {
        return Err(FormatError::file(format!(
            "archive member {name} declares {declared} bytes uncompressed, over the limit of {limit} bytes"
        )));
    }
    Ok(())
}

/// A member checked against its declared size and read through a
/// [`BoundedRead`], in case the declaration lies.
fn bounded_member<'a, R: Read + Seek>(
    zip: &'a mut ZipArchive<R>,
    index: usize,
    name: &CclfFileName,
    limit: u64,
) -> Result<BoundedRead<ZipFile<'a, R>>, FormatError> {
    check_declared_size(zip, index, name, limit)?;
    let member = zip.by_index(index)?;
    Ok(BoundedRead::new(
        member,
        limit,
        format!("archive member {name}"),
    ))
}

fn exactly_one(
    what: &str,
    mut found: Vec<(usize, CclfFileName)>,
    ignored: &[String],
) -> Result<(usize, CclfFileName), FormatError> {
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let others = if ignored.is_empty() {
                "it is empty".to_owned()
            } else {
                let shown: Vec<&str> = ignored.iter().take(10).map(String::as_str).collect();
                format!("its other members: {}", shown.join(", "))
            };
            Err(FormatError::file(format!(
                "archive has no {what} member named like P.BCD.A0001.ZC{}Y18.D181120.T1000000 ({others})",
                &what[4..]
            )))
        }
        n => {
            let names: Vec<String> = found.iter().map(|(_, name)| name.to_string()).collect();
            Err(FormatError::file(format!(
                "archive has {n} {what} members, expected one: {}",
                names.join(", ")
            )))
        }
    }
}

/// An unzipped CCLF package: the summary and a stream of CCLF8 records.
pub struct UnzippedCclf {
    /// The CCLF0 file's name.
    pub cclf0_name: CclfFileName,
    /// The CCLF8 file's name: its timestamp is the attribution date.
    pub cclf8_name: CclfFileName,
    /// The parsed CCLF0.
    pub summary: Cclf0Summary,
    /// The CCLF8 records, checked against the summary's count.
    pub records: Cclf8Reader<BufReader<File>>,
}

/// Opens an unzipped package: a CCLF0 file and a CCLF8 file, whose file
/// names must be CCLF file names of the same package.
pub fn open_unzipped(cclf0: &Path, cclf8: &Path) -> Result<UnzippedCclf, FormatError> {
    let name_of = |path: &Path, want: CclfFileNumber| -> Result<CclfFileName, FormatError> {
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| FormatError::file(format!("{} has no file name", path.display())))?;
        let name = CclfFileName::parse(base)?;
        if name.number != want {
            return Err(FormatError::file(format!(
                "{base} is not a CCLF{} file",
                want.digit()
            )));
        }
        Ok(name)
    };
    let cclf0_name = name_of(cclf0, CclfFileNumber::Cclf0)?;
    let cclf8_name = name_of(cclf8, CclfFileNumber::Cclf8)?;
    if !cclf0_name.same_package(&cclf8_name) {
        return Err(FormatError::file(format!(
            "{cclf0_name} and {cclf8_name} are not from the same package"
        )));
    }
    let in_cclf0 = |e: FormatError| e.context(&cclf0_name);
    let summary = Cclf0Summary::read(BufReader::new(File::open(cclf0)?)).map_err(in_cclf0)?;
    let declared = summary.cclf8_record_count().map_err(in_cclf0)?;
    let records = Cclf8Reader::new(BufReader::new(File::open(cclf8)?)).expect_count(declared);
    Ok(UnzippedCclf {
        cclf0_name,
        cclf8_name,
        summary,
        records,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::formats::cclf::{XrefIndicator, sample_cclf8};

    const ARCHIVE: &str = "T.BCD.A9994.ZCY24.D240115.T1000000";

    fn archive_name() -> CclfArchiveName {
        CclfArchiveName::parse(ARCHIVE).expect("valid")
    }

    fn mbis(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("1S00E00AA{:02}", i % 100)).collect()
    }

    fn package(n: usize, with_cclf9: bool) -> Vec<u8> {
        let mut w =
            CclfArchiveWriter::new(Cursor::new(Vec::new()), &archive_name()).expect("starts");
        for m in mbis(n) {
            w.write_cclf8(&sample_cclf8(&m)).expect("cclf8");
        }
        if with_cclf9 {
            w.write_cclf9(&Cclf9Record {
                xref_indicator: XrefIndicator::Mbi,
                current_id: "1S00E00AA00".to_owned(),
                previous_id: "1S00E00AA99".to_owned(),
                previous_id_effective_date: None,
                previous_id_obsolete_date: None,
                rrb_number: String::new(),
            })
            .expect("cclf9");
            assert!(w.write_cclf8(&sample_cclf8("1S00E00AA00")).is_err());
        }
        w.finish().expect("finishes").into_inner()
    }

    /// A zip with the given members, stored as written.
    fn zip_with(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in members {
            z.start_file(*name, SimpleFileOptions::default())
                .expect("member");
            z.write_all(data).expect("data");
        }
        z.finish().expect("zip").into_inner()
    }

    fn cclf0(count: u64) -> Vec<u8> {
        let mut out = Vec::new();
        Cclf0Summary {
            rows: vec![Cclf0Row::cclf8(count)],
        }
        .write(&mut out)
        .expect("cclf0");
        out
    }

    fn cclf8_bytes(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for m in mbis(n) {
            sample_cclf8(&m).write(&mut out).expect("cclf8");
        }
        out
    }

    const M0: &str = "T.BCD.A9994.ZC0Y24.D240115.T1000000";
    const M8: &str = "T.BCD.A9994.ZC8Y24.D240115.T1000000";

    fn open_err(bytes: Vec<u8>) -> String {
        match CclfArchiveReader::new(Cursor::new(bytes)) {
            Ok(_) => String::from("opened"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn members_over_their_declared_size_limit_are_refused_before_reading() {
        let bytes = package(10, false);
        let limits = MemberLimits {
            cclf0: 64 * 1024,
            cclf8: 10 * 550 - 1,
        };
        let e = CclfArchiveReader::with_limits(Cursor::new(bytes.clone()), limits)
            .err()
            .expect("over the limit");
        assert_eq!(
            e.to_string(),
            format!(
                "archive member {M8} declares {} bytes uncompressed, over the limit of {} bytes",
                10 * 550,
                10 * 550 - 1
            )
        );
        let tiny_cclf0 = MemberLimits {
            cclf0: 10,
            cclf8: 1 << 20,
        };
        let e = CclfArchiveReader::with_limits(Cursor::new(bytes.clone()), tiny_cclf0)
            .err()
            .expect("cclf0 over the limit");
        assert!(e.to_string().contains(M0), "{e}");
        let exact = MemberLimits {
            cclf0: 64 * 1024,
            cclf8: 10 * 550,
        };
        let mut r =
            CclfArchiveReader::with_limits(Cursor::new(bytes), exact).expect("at the limit");
        assert_eq!(r.cclf8_records().expect("cclf8").count(), 10);
    }

    #[test]
    fn reading_stops_at_the_limit_whatever_the_declared_size() {
        // A member whose declared size lies is only ever read through this.
        let mut data = Vec::new();
        let mut bounded = BoundedRead::new(std::io::repeat(b'x'), 1000, "archive member M");
        let e = bounded.read_to_end(&mut data).expect_err("stops");
        assert_eq!(data.len(), 1000);
        assert_eq!(
            FormatError::from_read(e).to_string(),
            "archive member M is larger than the limit of 1000 bytes"
        );
        // Through the record reader too: two records fit, the third is
        // refused as a format error rather than an I/O failure.
        let body = cclf8_bytes(5);
        let bounded = BoundedRead::new(Cursor::new(body.clone()), 2 * 550, "archive member M8");
        let mut reader = Cclf8Reader::new(BufReader::new(bounded));
        assert!(reader.next().expect("first").is_ok());
        assert!(reader.next().expect("second").is_ok());
        let e = reader.next().expect("third").expect_err("over the limit");
        assert_eq!(
            e.to_string(),
            "archive member M8 is larger than the limit of 1100 bytes"
        );
        // Exactly at the limit is the end, not an error.
        let mut all = Vec::new();
        BoundedRead::new(Cursor::new(body.clone()), body.len() as u64, "m")
            .read_to_end(&mut all)
            .expect("whole");
        assert_eq!(all, body);
    }

    #[test]
    fn an_archive_with_too_many_members_is_refused() {
        let names: Vec<String> = (0..=MAX_MEMBERS).map(|i| format!("junk{i}")).collect();
        let members: Vec<(&str, Vec<u8>)> =
            names.iter().map(|n| (n.as_str(), Vec::new())).collect();
        let e = open_err(zip_with(&members));
        assert!(e.contains("1001 members"), "{e}");
    }

    #[test]
    fn round_trip() {
        let bytes = package(3, true);
        let mut r = CclfArchiveReader::new(Cursor::new(bytes)).expect("opens");
        assert_eq!(r.cclf8_name().to_string(), M8);
        assert_eq!(r.cclf0_name().to_string(), M0);
        assert_eq!(
            r.summary().rows,
            vec![Cclf0Row::cclf8(3), Cclf0Row::cclf9(1)]
        );
        assert_eq!(r.ignored_members(), ["T.BCD.A9994.ZC9Y24.D240115.T1000000"]);
        let recs: Vec<_> = r
            .cclf8_records()
            .expect("cclf8")
            .collect::<Result<_, _>>()
            .expect("reads");
        let expected: Vec<_> = mbis(3).iter().map(|m| sample_cclf8(m)).collect();
        assert_eq!(recs, expected);
        // Re-reading starts over.
        assert_eq!(r.cclf8_records().expect("again").count(), 3);
    }

    #[test]
    fn streams_many_records() {
        let bytes = package(5000, false);
        let mut r = CclfArchiveReader::new(Cursor::new(bytes)).expect("opens");
        let mut reader = r.cclf8_records().expect("cclf8");
        assert_eq!(reader.by_ref().filter(Result::is_ok).count(), 5000);
        assert_eq!(reader.records_read(), 5000);
    }

    #[test]
    fn other_members_are_ignored_and_folders_allowed() {
        let bytes = zip_with(&[
            ("README.txt", b"hello".to_vec()),
            ("pkg/", Vec::new()),
            (&format!("pkg/{M0}"), cclf0(2)),
            (&format!("pkg/{M8}"), cclf8_bytes(2)),
            ("T.BCD.A9994.ZC1Y24.D240115.T1000000", Vec::new()),
        ]);
        let mut r = CclfArchiveReader::new(Cursor::new(bytes)).expect("opens");
        assert_eq!(r.ignored_members().len(), 2);
        assert_eq!(
            r.cclf8_records()
                .expect("cclf8")
                .filter(Result::is_ok)
                .count(),
            2
        );
    }

    #[test]
    fn member_problems_are_named() {
        let e = open_err(zip_with(&[(M0, cclf0(1)), ("ZC8", cclf8_bytes(1))]));
        assert!(e.contains("no CCLF8 member") && e.contains("ZC8"), "{e}");
        let e = open_err(zip_with(&[(M8, cclf8_bytes(1))]));
        assert!(e.contains("no CCLF0 member"), "{e}");
        let e = open_err(zip_with(&[]));
        assert!(e.contains("it is empty"), "{e}");
        let other8 = "T.BCD.A9994.ZC8Y24.D240115.T1000001";
        let e = open_err(zip_with(&[
            (M0, cclf0(1)),
            (M8, cclf8_bytes(1)),
            (other8, cclf8_bytes(1)),
        ]));
        assert!(e.contains("2 CCLF8 members") && e.contains(other8), "{e}");
        for mismatched in [
            "T.BCD.A9995.ZC8Y24.D240115.T1000000",
            "T.BCD.A9994.ZC8R24.D240115.T1000000",
            "T.BCD.A9994.ZC8Y23.D240115.T1000000",
            "T.BCD.A9994.ZC8Y24.D240115.T1000100",
            "P.BCD.A9994.ZC8Y24.D240115.T1000000",
        ] {
            let e = open_err(zip_with(&[(M0, cclf0(1)), (mismatched, cclf8_bytes(1))]));
            assert!(e.contains("not from the same package"), "{mismatched}: {e}");
        }
        // The ignored seventh digit may differ.
        let digit = "T.BCD.A9994.ZC8Y24.D240115.T1000009";
        assert_eq!(
            open_err(zip_with(&[(M0, cclf0(1)), (digit, cclf8_bytes(1))])),
            "opened"
        );
        assert!(open_err(b"not a zip".to_vec()).contains("not a readable zip archive"));
    }

    #[test]
    fn cclf0_problems_name_the_member() {
        let e = open_err(zip_with(&[
            (M0, b"garbage\n".to_vec()),
            (M8, cclf8_bytes(1)),
        ]));
        assert!(
            e.starts_with(&format!("line 1: archive member {M0}:")),
            "{e}"
        );
        let nine = {
            let mut out = Vec::new();
            Cclf0Summary {
                rows: vec![Cclf0Row::cclf9(1)],
            }
            .write(&mut out)
            .expect("cclf0");
            out
        };
        let e = open_err(zip_with(&[(M0, nine), (M8, cclf8_bytes(1))]));
        assert!(e.contains("no CCLF8 row"), "{e}");
    }

    #[test]
    fn count_mismatch_with_cclf0() {
        for (declared, actual) in [(5, 3), (2, 3)] {
            let bytes = zip_with(&[(M0, cclf0(declared)), (M8, cclf8_bytes(actual as usize))]);
            let mut r = CclfArchiveReader::new(Cursor::new(bytes)).expect("opens");
            let errors: Vec<_> = r
                .cclf8_records()
                .expect("cclf8")
                .filter_map(Result::err)
                .collect();
            assert_eq!(errors.len(), 1, "{declared} vs {actual}");
            assert!(
                errors[0].to_string().contains(&declared.to_string()),
                "{}",
                errors[0]
            );
        }
    }

    #[test]
    fn open_from_path_checks_archive_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join(ARCHIVE);
        std::fs::write(&good, package(2, false)).expect("write");
        let mut r = CclfArchiveReader::open(&good).expect("opens");
        assert_eq!(r.archive_name(), Some(&archive_name()));
        assert_eq!(r.cclf8_records().expect("cclf8").count(), 2);
        let other = dir.path().join("T.BCD.A9990.ZCY24.D240115.T1000000");
        std::fs::write(&other, package(2, false)).expect("write");
        let e = CclfArchiveReader::open(&other).err().expect("mismatch");
        assert!(e.to_string().contains("does not agree"), "{e}");
        let unnamed = dir.path().join("archive.zip");
        std::fs::write(&unnamed, package(1, false)).expect("write");
        assert!(CclfArchiveReader::open(&unnamed).is_err());
    }

    #[test]
    fn unzipped_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p0 = dir.path().join(M0);
        let p8 = dir.path().join(M8);
        std::fs::write(&p0, cclf0(2)).expect("write");
        std::fs::write(&p8, cclf8_bytes(2)).expect("write");
        let u = open_unzipped(&p0, &p8).expect("opens");
        assert_eq!(u.cclf8_name.to_string(), M8);
        assert_eq!(u.summary.cclf8_record_count().expect("count"), 2);
        assert_eq!(u.records.filter(Result::is_ok).count(), 2);
        // Arguments swapped, or from different packages.
        assert!(open_unzipped(&p8, &p0).is_err());
        let p8b = dir.path().join("T.BCD.A9994.ZC8Y24.D240116.T1000000");
        std::fs::write(&p8b, cclf8_bytes(2)).expect("write");
        assert!(open_unzipped(&p0, &p8b).is_err());
        // A count mismatch shows in the stream.
        std::fs::write(&p0, cclf0(3)).expect("write");
        let u = open_unzipped(&p0, &p8).expect("opens");
        assert_eq!(u.records.filter(Result::is_err).count(), 1);
    }
}
