//! Writes a synthetic ACO as files: the CCLF attribution packages and
//! 1-800-MEDICARE opt-out files CMS would send, and the FHIR NDJSON the
//! Beneficiary FHIR Data server would serve — input for `bcda import`, or
//! for anyone testing an ACO data pipeline.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::domain::{ApiVersion, ResourceType};
use crate::formats::FormatError;
use crate::formats::cclf::{Cclf8Record, Cclf9Record, SexCode, XrefIndicator};
use crate::formats::cclf_archive::CclfArchiveWriter;
use crate::formats::names::{CclfArchiveName, Environment, FileStamp, OptOutFileName};
use crate::formats::opt_out_file::{Gender, OptOutRecord, Preference, write_opt_out_file};
use crate::synthetic::{Beneficiary, OptOutEvent, OptOutPreference, Sex, SyntheticAco};

/// Why writing failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// A record did not fit its format (a generator bug).
    #[error("{path}: {source}")]
    Format {
        /// The file being written.
        path: PathBuf,
        /// Which field did not fit, and how.
        source: FormatError,
    },
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// One CCLF zip per attribution file, under `attribution/`.
    pub attribution_files: Vec<PathBuf>,
    /// One 1-800-MEDICARE file per month of preferences, under `opt-outs/`.
    pub opt_out_files: Vec<PathBuf>,
    /// `fhir/{stu3,r4,r4-v3}/<Type>.ndjson`: one per version and resource type.
    pub fhir_files: Vec<PathBuf>,
    /// Resources written, all files together.
    pub resources: u64,
    /// Uncompressed NDJSON bytes, all files together.
    pub ndjson_bytes: u64,
}

/// The folder of a version under `fhir/`: `stu3` for v1, `r4` for v2,
/// `r4-v3` for v3 (`bcda import resources --fhir-version` takes the same
/// names).
pub fn version_dir(version: ApiVersion) -> &'static str {
    match version {
        ApiVersion::V1 => "stu3",
        ApiVersion::V2 => "r4",
        ApiVersion::V3 => "r4-v3",
    }
}

/// Writes everything known about `aco` as of `as_of` under `out`:
/// `attribution/` (one CCLF zip per attribution file), `opt-outs/` (one
/// file per month of preferences), `fhir/{stu3,r4,r4-v3}/<Type>.ndjson`
/// (every beneficiary the claims source knows, current and former members;
/// every type of the version, so r4 also has Claim and ClaimResponse, and
/// r4-v3's ExplanationOfBenefits include the partially adjudicated claims
/// tagged SharedSystem; claims that are 42 CFR Part 2 data included, as BFD
/// holds them: the importer flags them and no export sends them).
pub fn write_all(
    aco: &SyntheticAco,
    out: &Path,
    as_of: OffsetDateTime,
) -> Result<Written, WriteError> {
    let mut written = Written::default();
    write_attribution(aco, &out.join("attribution"), as_of, &mut written)?;
    write_opt_outs(aco, &out.join("opt-outs"), as_of, &mut written)?;
    for version in ApiVersion::ALL {
        let dir = out.join("fhir").join(version_dir(version));
        create_dir(&dir)?;
        // v2 adds the partially adjudicated Claim and ClaimResponse (v3
        // serves those claims as ExplanationOfBenefits).
        for &resource_type in ResourceType::of_version(version) {
            let path = dir.join(format!("{}.ndjson", resource_type.as_str()));
            write_resources(aco, version, resource_type, as_of, &path, &mut written)?;
        }
    }
    Ok(written)
}

fn create_dir(dir: &Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        path: dir.to_owned(),
        source,
    })
}

fn create(path: &Path) -> Result<BufWriter<File>, WriteError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|source| WriteError::Io {
            path: path.to_owned(),
            source,
        })
}

fn write_attribution(
    aco: &SyntheticAco,
    dir: &Path,
    as_of: OffsetDateTime,
    written: &mut Written,
) -> Result<(), WriteError> {
    create_dir(dir)?;
    for file in aco
        .attribution_files()
        .iter()
        .filter(|f| f.timestamp <= as_of)
    {
        let format_error = |path: &Path| {
            let path = path.to_owned();
            move |source| WriteError::Format { path, source }
        };
        let stamp = FileStamp::new(
            PrimitiveDateTime::new(file.timestamp.date(), file.timestamp.time()),
            0,
        )
        .map_err(format_error(dir))?;
        let name = CclfArchiveName {
            environment: Environment::Test,
            cms_id: aco.cms_id().to_owned(),
            kind: file.kind,
            performance_year: u8::try_from(file.performance_year.rem_euclid(100)).unwrap_or(0),
            stamp,
        };
        let path = dir.join(name.to_string());
        let mut writer =
            CclfArchiveWriter::new(create(&path)?, &name).map_err(format_error(&path))?;
        // The archive holds the CCLF8 member whole before the CCLF9 member.
        let mut xrefs = Vec::new();
        for index in aco.attribution_members(file) {
            let Some(bene) = aco.beneficiary(index) else {
                continue;
            };
            writer
                .write_cclf8(&cclf8_record(&bene, file.timestamp.date()))
                .map_err(format_error(&path))?;
            xrefs.extend(cclf9_record(&bene));
        }
        for xref in &xrefs {
            writer.write_cclf9(xref).map_err(format_error(&path))?;
        }
        let mut out = writer.finish().map_err(format_error(&path))?;
        out.flush().map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
        written.attribution_files.push(path);
    }
    Ok(())
}

/// A beneficiary as a CCLF8 record of a file dated `as_of`.
pub fn cclf8_record(bene: &Beneficiary, as_of: Date) -> Cclf8Record {
    let age = as_of.year()
        - bene.birth_date.year()
        - i32::from(
            (as_of.month(), as_of.day()) < (bene.birth_date.month(), bene.birth_date.day()),
        );
    Cclf8Record {
        mbi: bene.mbi.clone(),
        hicn: bene.hicn.clone(),
        fips_state_code: bene.fips_state.clone(),
        fips_county_code: bene.fips_county.clone(),
        zip_code: bene.zip5.clone(),
        birth_date: Some(bene.birth_date),
        sex: Some(match bene.sex {
            Sex::Male => SexCode::Male,
            Sex::Female => SexCode::Female,
        }),
        race_code: Some(bene.race_code),
        age: u16::try_from(age).ok(),
        medicare_status_code: bene.medicare_status.clone(),
        dual_status_code: bene.dual_status.clone(),
        // The world's timeline may hold a death after the file's date.
        death_date: bene.death_date_as_of(as_of),
        range_begin_date: Some(bene.part_a_start),
        range_end_date: bene.death_date_as_of(as_of),
        first_name: bene.first_name.to_uppercase(),
        middle_name: bene.middle_name.clone().unwrap_or_default().to_uppercase(),
        last_name: bene.last_name.to_uppercase(),
        original_entitlement_reason_code: Some(bene.original_entitlement_reason),
        entitlement_buyin_indicator: Some(bene.buy_in),
        part_a_start_date: Some(bene.part_a_start),
        part_b_start_date: bene.part_b_start,
        address_lines: [
            bene.address_line.to_uppercase(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
        city: bene.city.to_uppercase(),
        state: bene.state.clone(),
        zip5: bene.zip5.clone(),
        zip4: bene.zip4.clone(),
    }
}

/// The cross-reference record of a beneficiary whose MBI changed.
fn cclf9_record(bene: &Beneficiary) -> Option<Cclf9Record> {
    bene.historic_mbi.as_ref().map(|old| Cclf9Record {
        xref_indicator: XrefIndicator::Mbi,
        current_id: bene.mbi.clone(),
        previous_id: old.clone(),
        previous_id_effective_date: Some(bene.part_a_start),
        previous_id_obsolete_date: Some(bene.mbi_effective_date),
        rrb_number: String::new(),
    })
}

fn write_opt_outs(
    aco: &SyntheticAco,
    dir: &Path,
    as_of: OffsetDateTime,
    written: &mut Written,
) -> Result<(), WriteError> {
    create_dir(dir)?;
    let today = as_of.date();
    let events: Vec<OptOutEvent> = aco
        .opt_out_events()
        .into_iter()
        .filter(|e| e.effective_date <= today)
        .collect();
    // One file per month of effective dates, dated when the month's file
    // would have arrived (the 1st of the next month, or today for this month).
    let mut start = 0;
    while start < events.len() {
        let month = (
            events[start].effective_date.year(),
            events[start].effective_date.month(),
        );
        let end = events[start..]
            .iter()
            .position(|e| (e.effective_date.year(), e.effective_date.month()) != month)
            .map_or(events.len(), |n| start + n);
        let file_date = first_of_next_month(month.0, month.1).min(today);
        let stamp = FileStamp::new(
            PrimitiveDateTime::new(file_date, Time::from_hms(2, 0, 0).unwrap_or(Time::MIDNIGHT)),
            0,
        )
        .map_err(|source| WriteError::Format {
            path: dir.to_owned(),
            source,
        })?;
        let name = OptOutFileName {
            environment: Environment::Test,
            stamp,
        };
        let path = dir.join(name.to_string());
        let records: Vec<OptOutRecord> = events[start..end]
            .iter()
            .filter_map(|e| aco.beneficiary(e.index).map(|b| opt_out_record(aco, &b, e)))
            .collect();
        let mut out =
            write_opt_out_file(create(&path)?, file_date, &records).map_err(|source| {
                WriteError::Format {
                    path: path.clone(),
                    source,
                }
            })?;
        out.flush().map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
        written.opt_out_files.push(path);
        start = end;
    }
    Ok(())
}

fn first_of_next_month(year: i32, month: Month) -> Date {
    let (year, month) = if month == Month::December {
        (year + 1, Month::January)
    } else {
        (year, month.next())
    };
    Date::from_calendar_date(year, month, 1).unwrap_or(Date::MAX)
}

/// One 1-800-MEDICARE call as a DPRF record.
fn opt_out_record(aco: &SyntheticAco, bene: &Beneficiary, event: &OptOutEvent) -> OptOutRecord {
    OptOutRecord {
        mbi: bene.mbi.clone(),
        beneficiary_link_key: Some(u64::from(bene.index) + 1),
        first_name: bene.first_name.to_uppercase(),
        middle_name: bene.middle_name.clone().unwrap_or_default().to_uppercase(),
        last_name: bene.last_name.to_uppercase(),
        birth_date: Some(bene.birth_date),
        address_lines: [
            bene.address_line.to_uppercase(),
            String::new(),
            String::new(),
        ],
        city: bene.city.to_uppercase(),
        state: bene.state.clone(),
        zip5: bene.zip5.clone(),
        zip4: bene.zip4.clone(),
        gender: Some(match bene.sex {
            Sex::Male => Gender::Male,
            Sex::Female => Gender::Female,
        }),
        encounter_date: Some(event.effective_date),
        effective_date: Some(event.effective_date),
        source_code: "1-800".to_owned(),
        mechanism_code: Some('T'),
        preference: Some(match event.preference {
            OptOutPreference::OptIn => Preference::Share,
            OptOutPreference::OptOut => Preference::DoNotShare,
        }),
        samhsa_effective_date: None,
        samhsa_source_code: String::new(),
        samhsa_mechanism_code: None,
        samhsa_preference: None,
        aco_id: aco.cms_id().to_owned(),
        aco_legal_name: format!("SYNTHETIC ACO {}", aco.cms_id()),
    }
}

/// Beneficiaries generated per parallel round: enough to keep every core
/// busy, few enough to keep memory small.
const ROUND: u32 = 64;

fn write_resources(
    aco: &SyntheticAco,
    version: ApiVersion,
    resource_type: ResourceType,
    as_of: OffsetDateTime,
    path: &Path,
    written: &mut Written,
) -> Result<(), WriteError> {
    let mut out = create(path)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let io = |source| WriteError::Io {
        path: path.to_owned(),
        source,
    };
    let mut first = 0;
    while first < aco.pool_size() {
        let last = first.saturating_add(ROUND).min(aco.pool_size());
        let indices: Vec<u32> = (first..last)
            .filter(|&i| aco.has_claims_record(i))
            .collect();
        let per_thread = indices.len().div_ceil(threads).max(1);
        // Generate in parallel, write in beneficiary order.
        let parts: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = indices
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut buffer = Vec::new();
                        let mut count = 0u64;
                        for &index in chunk {
                            for resource in aco.resources(index, version, resource_type, as_of) {
                                buffer.extend_from_slice(&resource.json);
                                buffer.push(b'\n');
                                count += 1;
                            }
                        }
                        (buffer, count)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    let (buffer, count) = h
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    written.resources += count;
                    buffer
                })
                .collect()
        });
        for part in parts {
            written.ndjson_bytes += part.len() as u64;
            out.write_all(&part).map_err(io)?;
        }
        first = last;
    }
    out.flush().map_err(io)?;
    written.fhir_files.push(path.to_owned());
    Ok(())
}
