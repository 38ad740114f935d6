//! `bcda import resources`: FHIR NDJSON (Patient, Coverage,
//! ExplanationOfBenefit, and on v2 the partially adjudicated Claim and
//! ClaimResponse, as the Beneficiary FHIR Data server emits them) into the
//! resource store. On v3 (`r4-v3`) each ExplanationOfBenefit's System-Type
//! and Final-Action tags and outcome are stored as one number
//! (`EobFacts::index`) for `_typeFilter`; one without them, or with codes
//! API v3 does not know, refuses the file.
//!
//! Each line is stored byte for byte as it arrived (minus surrounding
//! whitespace), linked to its beneficiary: a Patient by its MBI identifier
//! (`http://hl7.org/fhir/sid/us-mbi`), a Coverage by `beneficiary`, an
//! ExplanationOfBenefit by `patient`, both `Patient/<id>` references to a
//! Patient imported earlier or earlier in the same file; a Claim or
//! ClaimResponse by the MBI of its `patient`, which BFD writes as a
//! contained Patient (`#patient`) since the shared systems know
//! beneficiaries by MBI only (a `Patient/<id>` reference or an MBI
//! identifier on the reference are taken too).
//!
//! Claims that are 42 CFR Part 2 data are stored flagged (`samhsa`) and
//! never exported: an ExplanationOfBenefit or Claim with a substance use
//! disorder diagnosis or DRG (`crate::domain::part2`, checked on every
//! diagnosis coding and every `clm_drg_cd` coding) or BFD's `42CFRPart2`
//! security label; a ClaimResponse with that label or whose Claim (same id)
//! is flagged, whichever of the two is imported first. A ClaimResponse also
//! takes its Claim's service end, so Group/runout's claims-through cap drops
//! both together, as the generator does.
//!
//! The work is split in three, so they run side by side: a parser thread
//! reads the file in bounded chunks of lines and does every check a line
//! needs no database for ([`resource_line`]); a compressor thread packs each
//! run of one beneficiary's lines ([`packs`]) and compresses each line's
//! body for storing (`formats::stored_body`); the writer finds each
//! line's beneficiary (in line order, so the first bad line is the one
//! named, whichever check it fails), stores the rows, many per statement,
//! and then the packs that still match them.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::packs::{PackTracker, ParsedPack, RunPacker};
use super::progress::{Progress, Unit};
use super::resource_line::{self, Link, ParsedLine};
use super::{FileOutcome, ImportError};
use crate::domain::{ApiVersion, ResourceType};
use crate::formats::ndjson::NdjsonLines;
use crate::formats::stored_body::BodyCompressor;
use crate::store::resources::{self, BeneficiaryConflict, NewResource};
use crate::store::{Db, Tx};

/// Lines the parser hands the writer at a time (fewer if they reach
/// [`CHUNK_BYTES`]), and rows the writer stores per flush: one statement of
/// this many rows, so its text (and prepared statement) stays the same.
const CHUNK_ROWS: usize = resources::UPSERT_ROWS;

/// Bytes of resources past which a chunk is handed on or stored early:
/// with [`CHANNEL_CHUNKS`] this bounds the memory an import holds, whatever
/// the lines' sizes.
const CHUNK_BYTES: usize = 4 << 20;

/// Chunks waiting between two stages (parser and compressor, compressor
/// and writer): enough to keep all three busy.
const CHANNEL_CHUNKS: usize = 3;

/// Beneficiary row ids remembered per file (Patient id or MBI -> row);
/// past this the memory is cleared and lookups go to the database again.
const MAX_REMEMBERED: usize = 200_000;

/// What the parser hands the compressor: lines in file order, then the
/// error that stopped the parser, if any (nothing follows it).
struct ParsedChunk {
    lines: Vec<ParsedLine>,
    error: Option<ImportError>,
    /// Bytes of the file read so far, for progress.
    position: u64,
}

/// What the compressor hands the writer: the same lines, bodies compressed
/// and runs packed, then the parser's error, if any.
struct Chunk {
    lines: Vec<ChunkLine>,
    error: Option<ImportError>,
    /// Bytes of the file read so far, for progress.
    position: u64,
}

/// A line as the compressor hands it on.
struct ChunkLine {
    line: ParsedLine,
    /// Set on the last line of a run of one beneficiary's lines of a
    /// type: the pack the compressor made of the run.
    pack: Option<Box<ParsedPack>>,
}

/// Imports one NDJSON file of `version` resources. The whole file lands in
/// one transaction or not at all. A line longer than
/// [`crate::formats::ndjson::MAX_RESOURCE_LINE_BYTES`] refuses the file
/// (memory stays bounded by that, whatever the file holds).
pub async fn import_file(
    db: &Db,
    version: ApiVersion,
    path: &Path,
    quiet: bool,
) -> Result<FileOutcome, ImportError> {
    let file = std::fs::File::open(path)
        .map_err(|e| ImportError::file(path, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut progress = Progress::start(&super::file_name(path)?, size, Unit::Bytes, quiet);
    let mut tx = db.begin().await.map_err(|e| ImportError::store(path, e))?;
    resources::prefer_fast_compression(&mut tx)
        .await
        .map_err(|e| ImportError::store(path, e))?;
    let (sender, parsed) = mpsc::channel(CHANNEL_CHUNKS);
    let (compressed, mut chunks) = mpsc::channel(CHANNEL_CHUNKS);
    let parser = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || parse_file(file, &path, version, &sender))
    };
    let compressor = tokio::task::spawn_blocking(move || compress_and_pack(parsed, &compressed));
    let mut writer = FileWriter {
        path,
        version,
        patients: HashMap::new(),
        mbis: HashMap::new(),
        rows: Vec::with_capacity(CHUNK_ROWS),
        row_bytes: 0,
        count: 0,
        packs: PackTracker::new(version),
    };
    let result = async {
        while let Some(chunk) = chunks.recv().await {
            for ChunkLine { line, pack } in chunk.lines {
                writer.line(&mut tx, line, pack).await?;
            }
            if let Some(error) = chunk.error {
                return Err(error);
            }
            progress.update(chunk.position);
        }
        writer.flush(&mut tx).await?;
        writer.finish_packs(&mut tx).await?;
        Ok::<_, ImportError>(())
    }
    .await;
    // The compressor, then the parser, stop at their next chunk once the
    // receiver after them is gone.
    drop(chunks);
    compressor
        .await
        .map_err(|e| ImportError::file(path, format!("the compressor failed: {e}")))?;
    parser
        .await
        .map_err(|e| ImportError::file(path, format!("the parser failed: {e}")))?;
    match result {
        Ok(()) => {
            tx.commit().await.map_err(|e| ImportError::store(path, e))?;
            // The file is in: a failure here only leaves the statistics to
            // autovacuum, as before.
            if let Err(e) = resources::refresh_statistics(db, writer.count).await {
                tracing::warn!(error = %e, "could not refresh the planner's statistics after an import");
            }
            progress.finish(&format!("{} resources", writer.count));
            Ok(FileOutcome::Imported {
                records: writer.count,
            })
        }
        Err(e) => {
            // Dropping the transaction rolls it back.
            drop(tx);
            progress.abandon();
            Err(e)
        }
    }
}

/// Reads and checks the file's lines, handing them on in chunks, until the
/// end, the first bad line, or the compressor stopping (its receiver
/// dropped).
fn parse_file(
    file: std::fs::File,
    path: &Path,
    version: ApiVersion,
    sender: &mpsc::Sender<ParsedChunk>,
) {
    let mut lines = NdjsonLines::new(BufReader::with_capacity(1 << 20, file));
    let new_chunk = || ParsedChunk {
        lines: Vec::with_capacity(CHUNK_ROWS),
        error: None,
        position: 0,
    };
    let mut chunk = new_chunk();
    let mut chunk_bytes = 0;
    loop {
        let parsed = match lines.next_line() {
            Ok(None) => break,
            Ok(Some((_, line))) if line.trim_ascii().is_empty() => continue,
            Ok(Some((number, line))) => {
                resource_line::parse_line(path, version, number, line.trim_ascii())
            }
            Err(e) => Err(super::attribution::format_error(path, e)),
        };
        match parsed {
            Ok(line) => {
                chunk_bytes += line.resource.as_ref().map_or(0, |r| r.body.len());
                chunk.lines.push(line);
            }
            Err(e) => {
                chunk.error = Some(e);
                break;
            }
        }
        if chunk.lines.len() >= CHUNK_ROWS || chunk_bytes >= CHUNK_BYTES {
            chunk.position = lines.position();
            chunk_bytes = 0;
            if sender
                .blocking_send(std::mem::replace(&mut chunk, new_chunk()))
                .is_err()
            {
                return;
            }
        }
    }
    chunk.position = lines.position();
    // Nothing to do if the compressor has stopped.
    let _ = sender.blocking_send(chunk);
}

/// The middle stage: packs each run of one beneficiary's lines
/// ([`RunPacker`]) and compresses every body for storing
/// (`formats::stored_body`), while the parser reads the next chunk and the
/// writer stores the one before. (On the parser's thread these made it the
/// one the others waited for.)
fn compress_and_pack(mut parsed: mpsc::Receiver<ParsedChunk>, compressed: &mpsc::Sender<Chunk>) {
    let mut compressor = BodyCompressor::new();
    let mut runs = RunPacker::default();
    // A line is handed on once the next one is seen: only then is it known
    // whether it ends a run (and carries the run's pack).
    let mut held: Option<ParsedLine> = None;
    let mut position = 0;
    let mut finish = |mut line: ParsedLine, pack: Option<ParsedPack>| {
        if let Ok(resource) = line.resource.as_mut() {
            resource.body = compressor.compress(&resource.body);
        }
        ChunkLine {
            line,
            pack: pack.map(Box::new),
        }
    };
    while let Some(chunk) = parsed.blocking_recv() {
        position = chunk.position;
        let mut out = Chunk {
            lines: Vec::with_capacity(chunk.lines.len() + 1),
            error: None,
            position,
        };
        for line in chunk.lines {
            let closed = runs.line(&line);
            if let Some(previous) = held.replace(line) {
                out.lines.push(finish(previous, closed));
            }
        }
        if let Some(error) = chunk.error {
            // The parser stopped: the held line goes on without its run's
            // pack (the file is refused anyway), then the error.
            out.lines.extend(held.take().map(|line| finish(line, None)));
            out.error = Some(error);
            let _ = compressed.blocking_send(out);
            return;
        }
        if compressed.blocking_send(out).is_err() {
            return;
        }
    }
    // The end of the file closes the last run.
    if let Some(line) = held.take() {
        let last = finish(line, runs.finish());
        let _ = compressed.blocking_send(Chunk {
            lines: vec![last],
            error: None,
            position,
        });
    }
}

/// The writer: finds each line's beneficiary and stores the rows.
struct FileWriter<'p> {
    path: &'p Path,
    version: ApiVersion,
    /// Patient id -> beneficiary row id, for references in this file.
    patients: HashMap<String, i64>,
    /// MBI -> beneficiary row id, for Claims and ClaimResponses in this file.
    mbis: HashMap<String, i64>,
    /// Rows not yet stored, and their bodies' bytes.
    rows: Vec<NewResource>,
    row_bytes: usize,
    count: u64,
    /// Which packs to store, and which beneficiaries to pack at the end.
    packs: PackTracker,
}

impl FileWriter<'_> {
    async fn line(
        &mut self,
        tx: &mut Tx,
        line: ParsedLine,
        pack: Option<Box<ParsedPack>>,
    ) -> Result<(), ImportError> {
        let fail = |field: Option<&str>, message: String| {
            ImportError::line(self.path, line.number, field, message)
        };
        let beneficiary_id = match &line.link {
            Link::Patient { mbi } => {
                // A Patient's own checks passed, so its row is there.
                let id = line
                    .resource
                    .as_ref()
                    .map_or("", |r| r.resource_id.as_str());
                let row = resources::upsert_beneficiary(tx, mbi, id)
                    .await
                    .map_err(|e| ImportError::store(self.path, e))?
                    .map_err(|conflict| match conflict {
                        BeneficiaryConflict::MbiHasOtherPatient(other) => fail(
                            Some("identifier"),
                            format!("MBI {mbi} already belongs to Patient {other}"),
                        ),
                        BeneficiaryConflict::PatientHasOtherMbi(_) => fail(
                            Some("identifier"),
                            format!("Patient {id} was imported before with a different MBI"),
                        ),
                    })?;
                remember(&mut self.patients, id, row);
                row
            }
            Link::Mbi(mbi) => self.mbi_row(tx, mbi).await?.ok_or_else(|| {
                fail(
                    Some("patient"),
                    "the patient's MBI matches no imported Patient; import the Patient file first"
                        .to_owned(),
                )
            })?,
            Link::Reference { field, reference } => self
                .patient_row(tx, Link::patient_id(reference))
                .await?
                .ok_or_else(|| {
                    fail(
                        Some(field),
                        format!(
                            "{reference} matches no imported Patient; import the Patient file first"
                        ),
                    )
                })?,
        };
        let mut resource = line.resource?;
        resource.beneficiary_id = beneficiary_id;
        self.packs
            .line(
                tx,
                line.number,
                beneficiary_id,
                resource.resource_type,
                pack,
            )
            .await
            .map_err(|e| ImportError::store(self.path, e))?;
        self.row_bytes += resource.body.len();
        self.rows.push(resource);
        self.count += 1;
        if self.rows.len() >= CHUNK_ROWS || self.row_bytes >= CHUNK_BYTES {
            self.flush(tx).await?;
        }
        Ok(())
    }

    async fn patient_row(
        &mut self,
        tx: &mut Tx,
        patient_id: &str,
    ) -> Result<Option<i64>, ImportError> {
        if let Some(&row) = self.patients.get(patient_id) {
            return Ok(Some(row));
        }
        let row = resources::beneficiary_by_patient_id(tx, patient_id)
            .await
            .map_err(|e| ImportError::store(self.path, e))?;
        if let Some(row) = row {
            remember(&mut self.patients, patient_id, row);
        }
        Ok(row)
    }

    /// The beneficiary row of an MBI imported with a Patient.
    async fn mbi_row(&mut self, tx: &mut Tx, mbi: &str) -> Result<Option<i64>, ImportError> {
        if let Some(&row) = self.mbis.get(mbi) {
            return Ok(Some(row));
        }
        let row = resources::beneficiary_by_mbi(tx, mbi)
            .await
            .map_err(|e| ImportError::store(self.path, e))?;
        if let Some(row) = row {
            remember(&mut self.mbis, mbi, row);
        }
        Ok(row)
    }

    async fn flush(&mut self, tx: &mut Tx) -> Result<(), ImportError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        // A Claim and its ClaimResponse may come in either order: the
        // responses of these ids take their Claim's flag and service end,
        // whichever was stored first.
        let pac_ids: Vec<String> = self
            .rows
            .iter()
            .filter(|r| ResourceType::PARTIALLY_ADJUDICATED.contains(&r.resource_type))
            .map(|r| r.resource_id.clone())
            .collect();
        let rows = std::mem::replace(&mut self.rows, Vec::with_capacity(CHUNK_ROWS));
        self.row_bytes = 0;
        resources::upsert(tx, rows)
            .await
            .map_err(|e| ImportError::store(self.path, e))?;
        if !pac_ids.is_empty() {
            let ids: Vec<&str> = pac_ids.iter().map(String::as_str).collect();
            resources::inherit_claim_flags(tx, self.version, &ids)
                .await
                .map_err(|e| ImportError::store(self.path, e))?;
        }
        self.packs
            .rows_stored(tx)
            .await
            .map_err(|e| ImportError::store(self.path, e))
    }

    /// After the last flush: packs what the file's runs did not.
    async fn finish_packs(&mut self, tx: &mut Tx) -> Result<(), ImportError> {
        std::mem::replace(&mut self.packs, PackTracker::new(self.version))
            .finish(tx)
            .await
            .map_err(|e| ImportError::store(self.path, e))
    }
}

/// Remembers a beneficiary row, forgetting all once there are too many
/// (memory stays bounded on a file of millions of beneficiaries).
fn remember(rows: &mut HashMap<String, i64>, key: &str, row: i64) {
    if rows.len() >= MAX_REMEMBERED {
        rows.clear();
    }
    rows.insert(key.to_owned(), row);
}

/// Orders files so those that start with a Patient come first: coverage and
/// claims refer to Patients, which must be imported before them. (Claims and
/// their ClaimResponses may come in any order.)
pub fn patient_files_first(paths: &mut [PathBuf]) {
    use std::io::Read;
    let starts_with_patient = |path: &PathBuf| -> bool {
        // Only the start of a possibly huge file is needed.
        let mut head = Vec::new();
        let read =
            std::fs::File::open(path).and_then(|f| f.take(256 * 1024).read_to_end(&mut head));
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
        read.is_ok() && resource_line::is_patient_line(first_line)
    };
    paths.sort_by_cached_key(|p| !starts_with_patient(p));
}
