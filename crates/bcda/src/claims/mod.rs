//! Where an ACO's data comes from: one interface, two implementations.
//!
//! An ACO's attribution history, the opt-outs that apply to its
//! beneficiaries, and their FHIR resources are read through [`ClaimsSource`]:
//!
//! - [`stored::StoredSource`]: what the importers put in the database;
//! - [`generated::GeneratedSource`]: the synthetic generator itself, computing
//!   everything on demand from a seed (the sandbox), so a 30,000-beneficiary
//!   ACO with seven years of claims costs no disk.
//!
//! Both answer the same questions identically: for the same synthetic ACO,
//! `bcda synthetic` + `bcda import` + the stored source yields byte for byte
//! what the generated source yields (a test proves it).
//!
//! This file holds what the two share: the questions ([`ClaimsSource`],
//! [`ResourceQuery`]), the errors, and the batches a [`ResourceStream`]
//! yields. How a stream moves through its data is each source's own: the
//! stored source's keyset pages are in `stored.rs`, the generator's
//! per-beneficiary cursor in `generated.rs`.

pub mod generated;
pub mod stored;

use std::collections::HashSet;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::domain::AttributionKind;
use crate::domain::{ApiVersion, EobFilter, ResourceType};
use crate::store::{Db, StoreError, synthetic_acos};

/// How far back a 1-800-MEDICARE preference counts (BCDA:
/// `BCDA_SUPPRESSION_LOOKBACK_DAYS`, 60).
pub const OPT_OUT_LOOKBACK: Duration = Duration::days(60);

/// A beneficiary as a source identifies it (opaque outside the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BeneficiaryKey(pub i64);

/// One attribution file of an ACO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionFile {
    /// Identifies the file within its source.
    pub key: i64,
    /// Default or runout: runout files serve Group/runout, default files the other kick-offs.
    pub kind: AttributionKind,
    /// Four-digit performance year; attribution selection orders files by it first.
    pub performance_year: i32,
    /// The file's own timestamp (not its import time); selection orders by it second.
    pub attributed_at: OffsetDateTime,
    /// How many beneficiaries it attributes, when known without reading
    /// the members (the generator does not count them up front).
    pub member_count: Option<i64>,
}

/// Which resources to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceQuery {
    /// API version, which fixes the FHIR version (STU3 or R4) of what is read.
    pub version: ApiVersion,
    /// The one type to read (one export task exports one type).
    pub resource_type: ResourceType,
    /// Only resources with `lastUpdated` after this (`_since`).
    pub since: Option<OffsetDateTime>,
    /// Only resources with `lastUpdated` at or before this: the job's
    /// transaction time, or an earlier bound (`_until`; partially
    /// adjudicated claims: the job's creation).
    pub until: OffsetDateTime,
    /// The moment whose data is read: the job's transaction time (at or
    /// after `until`). A store holds one version of each resource, the
    /// newest loaded; the generator, which knows every version, renders a
    /// Patient or Coverage as its newest version loaded by `as_of` and
    /// then applies `until` to it, so both sources answer alike.
    pub as_of: OffsetDateTime,
    /// ExplanationOfBenefit only: claims whose service ended (billable
    /// period end) on or before this date (Group/runout's cap).
    pub claims_through: Option<time::Date>,
    /// ExplanationOfBenefit on API v3 only: which claims (`_typeFilter`,
    /// or its default) by tags, outcome and service date. `None` on v1 and
    /// v2 and for the other types: no filter.
    pub eob_filter: Option<EobFilter>,
}

/// Why a source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading imported data (or the opt-outs either source consults) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking generator thread failed (panicked or was cancelled).
    #[error("generating synthetic data failed: {0}")]
    Generator(String),
    /// A stored pack could not be read back whole (see
    /// `store::resource_packs`): fails the same way every time.
    #[error("{0}")]
    DamagedPack(String),
}

/// An ACO's data source.
#[derive(Debug, Clone)]
pub enum ClaimsSource {
    /// Imported data in the database (attribution and opt-out files, the resource store).
    Stored(stored::StoredSource),
    /// Generated on demand from a synthetic ACO's parameters (`synthetic_acos`); imported opt-outs
    /// still apply.
    Generated(generated::GeneratedSource),
}

impl ClaimsSource {
    /// The source of one ACO: generated if it is a synthetic ACO, stored
    /// otherwise.
    pub async fn for_aco(db: &Db, aco_id: Uuid, cms_id: &str) -> Result<Self, SourceError> {
        Ok(match synthetic_acos::find(db, aco_id).await? {
            Some(spec) => {
                ClaimsSource::Generated(generated::GeneratedSource::new(db.clone(), cms_id, &spec))
            }
            None => ClaimsSource::Stored(stored::StoredSource::new(db.clone(), aco_id)),
        })
    }

    /// The ACO's attribution files, oldest attribution date first.
    pub async fn attribution_files(&self) -> Result<Vec<AttributionFile>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.attribution_files().await,
            ClaimsSource::Generated(s) => s.attribution_files().await,
        }
    }

    /// The MBIs one attribution file assigns to the ACO, in byte order.
    pub async fn attribution_members(
        &self,
        file: &AttributionFile,
    ) -> Result<Vec<String>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.attribution_members(file).await,
            ClaimsSource::Generated(s) => s.attribution_members(file).await,
        }
    }

    /// The MBIs that must not be exported as of `as_of`: those whose latest
    /// 1-800-MEDICARE preference in the 60 days before is `N`. Opt-outs are
    /// global, so imported files count for every source.
    pub async fn opted_out(&self, as_of: OffsetDateTime) -> Result<HashSet<String>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.opted_out(as_of).await,
            ClaimsSource::Generated(s) => s.opted_out(as_of).await,
        }
    }

    /// The source's key for each MBI (`None`: the source holds no Patient
    /// for that beneficiary as of `as_of`, which an export reports as an
    /// error for it).
    pub async fn resolve(
        &self,
        mbis: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<BeneficiaryKey>>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.resolve(mbis, as_of).await,
            ClaimsSource::Generated(s) => s.resolve(mbis, as_of).await,
        }
    }

    /// For each Patient id (the `id` of the Patient resources this source
    /// exports), the beneficiary's MBI if the source holds that Patient as
    /// of `as_of` and the beneficiary is a member of `file`; `None`
    /// otherwise, whatever the reason (unknown id, another ACO's
    /// beneficiary, not in this file): the kick-off's `patient` check,
    /// which must not tell those apart.
    pub async fn attributed_patients(
        &self,
        file: &AttributionFile,
        patient_ids: &[String],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Option<String>>, SourceError> {
        match self {
            ClaimsSource::Stored(s) => s.attributed_patients(file, patient_ids, as_of).await,
            ClaimsSource::Generated(s) => s.attributed_patients(file, patient_ids, as_of).await,
        }
    }

    /// Reads the resources of `beneficiaries` (in that order, each in
    /// `(lastUpdated, id)` order) in batches of NDJSON.
    pub fn stream(
        &self,
        beneficiaries: Vec<BeneficiaryKey>,
        query: ResourceQuery,
    ) -> ResourceStream {
        // Boxed once per stream (not per batch).
        let cursor = match self {
            ClaimsSource::Stored(s) => {
                SourceCursor::Stored(Box::new(s.cursor(beneficiaries, query)))
            }
            ClaimsSource::Generated(s) => {
                SourceCursor::Generated(Box::new(s.cursor(beneficiaries, query)))
            }
        };
        ResourceStream {
            cursor,
            spare: Vec::new(),
        }
    }
}

/// A batch of resources as NDJSON: each resource one line of minified
/// JSON, each line ending in `\n`. From the stored source, some stretches
/// of the lines may also come compressed as they were imported
/// ([`PackedResources`]): the writer copies those instead of compressing
/// them again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResourceBatch {
    /// Minified JSON resources, each line ending in `\n`.
    pub ndjson: Vec<u8>,
    /// How many lines (resources) `ndjson` holds.
    pub resources: usize,
    /// Packs, in order: stretches of `ndjson` that come compressed, and
    /// packs too big to inflate into the batch, placed among the lines.
    pub packs: Vec<PackedResources>,
    /// A pack too big for the batch's buffer closed it.
    closed: bool,
}

/// A stored pack in a batch: `deflated` is its text as compressed when it
/// was imported, to be copied into the export file as it is
/// ([`crate::formats::deflate_segments`]). Its text is `ndjson[text]`, or,
/// for a pack bigger than a batch's buffer (which is never grown), not in
/// the batch: the writer inflates it as it copies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedResources {
    /// Where it goes in the batch's `ndjson`: its text, or (not inflated)
    /// the empty range where it belongs.
    pub text: std::ops::Range<usize>,
    /// Whether its text is in `ndjson` (else the writer inflates it).
    pub inflated: bool,
    /// Resources (lines) it holds.
    pub resources: usize,
    /// Resources in the batch before it (plain lines and earlier packs).
    pub resources_before: usize,
    /// The compressed segment.
    pub deflated: Vec<u8>,
}

/// One part of a batch, in order: lines to compress, or lines already
/// compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchPart<'a> {
    /// NDJSON lines and how many.
    Ndjson(&'a [u8], usize),
    /// A pack: its segment, its text, and how many lines that holds.
    Pack {
        /// The compressed segment.
        deflated: &'a [u8],
        /// Its text (NDJSON), unless the pack was too big to inflate into
        /// the batch: the writer then inflates it.
        text: Option<&'a [u8]>,
        /// Lines in `text`.
        lines: usize,
    },
}

impl ResourceBatch {
    /// Each resource's JSON in `ndjson`, without its newline (those of the
    /// packs inflated into it too).
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let outside: usize = self
            .packs
            .iter()
            .filter(|p| !p.inflated)
            .map(|p| p.resources)
            .sum();
        self.ndjson
            .split(|&b| b == b'\n')
            .take(self.resources - outside)
    }

    /// The batch's parts in order (empty stretches of lines left out).
    pub fn parts(&self) -> impl Iterator<Item = BatchPart<'_>> {
        let mut parts = Vec::with_capacity(self.packs.len() * 2 + 1);
        let (mut at, mut lines) = (0, 0);
        for pack in &self.packs {
            parts.push(BatchPart::Ndjson(
                &self.ndjson[at..pack.text.start],
                pack.resources_before.saturating_sub(lines),
            ));
            parts.push(BatchPart::Pack {
                deflated: &pack.deflated,
                text: pack.inflated.then(|| &self.ndjson[pack.text.clone()]),
                lines: pack.resources,
            });
            at = pack.text.end;
            lines = pack.resources_before + pack.resources;
        }
        parts.push(BatchPart::Ndjson(
            &self.ndjson[at..],
            self.resources.saturating_sub(lines),
        ));
        parts
            .into_iter()
            .filter(|part| !matches!(part, BatchPart::Ndjson(bytes, _) if bytes.is_empty()))
    }

    /// Adds a stored pack of `resources` lines and `text_bytes` of NDJSON
    /// after the lines so far. If its text fits in the buffer's room, it is
    /// inflated into `ndjson` (checked whole, and holding exactly that many
    /// lines); otherwise it goes as it is, for the writer to inflate, and
    /// closes the batch.
    fn push_pack(
        &mut self,
        resources: usize,
        text_bytes: usize,
        deflated: Vec<u8>,
        inflater: &mut crate::formats::deflate_segments::SegmentInflater,
    ) -> Result<(), SourceError> {
        let start = self.ndjson.len();
        if self.ndjson.capacity() - start < text_bytes {
            self.packs.push(PackedResources {
                text: start..start,
                inflated: false,
                resources,
                resources_before: self.resources,
                deflated,
            });
            self.resources += resources;
            self.closed = true;
            return Ok(());
        }
        let damaged = |e: std::io::Error| SourceError::DamagedPack(e.to_string());
        inflater
            .inflate_into(&deflated, &mut self.ndjson)
            .map_err(damaged)?;
        let text = &self.ndjson[start..];
        let lines = crate::formats::deflate_segments::count_newlines(text);
        if lines != resources || text.last().is_some_and(|&b| b != b'\n') {
            self.ndjson.truncate(start);
            return Err(SourceError::DamagedPack(format!(
                "a stored pack is damaged: it holds {lines} lines, not {resources}"
            )));
        }
        self.packs.push(PackedResources {
            text: start..self.ndjson.len(),
            inflated: true,
            resources,
            resources_before: self.resources,
            deflated,
        });
        self.resources += resources;
        Ok(())
    }

    /// Whether the batch is closed ([`BATCH_BYTES`] reached): a source
    /// stops adding to it.
    fn is_full(&self) -> bool {
        self.closed || self.ndjson.len() >= BATCH_BYTES
    }
}

/// A batch is closed once it holds this many bytes (it may run over by one
/// resource). Big enough that per-batch costs (a thread hop, a compressor
/// call) vanish, small enough that a few batches in flight per task stay
/// far below the memory budget.
pub const BATCH_BYTES: usize = 1 << 20;

/// What a batch buffer is given: a full batch and the resource that runs
/// over.
pub const BATCH_CAPACITY: usize = BATCH_BYTES + BATCH_BYTES / 4;

/// Resources of a list of beneficiaries, read batch by batch: memory holds
/// about one batch ([`BATCH_BYTES`]), however much data a beneficiary has.
#[derive(Debug)]
pub struct ResourceStream {
    /// Where the stream is in its source.
    cursor: SourceCursor,
    /// Buffers handed in by the consumer, reused for the next batches.
    spare: Vec<Vec<u8>>,
}

/// A stream's position, kept by the source it reads: each source pages in
/// its own way (keyset pages of the store, a half-rendered beneficiary of
/// the generator).
#[derive(Debug)]
enum SourceCursor {
    /// The stored source's keyset scan (boxed, as the generator's).
    Stored(Box<stored::StoredCursor>),
    /// The generator's cursor (boxed: see [`ClaimsSource::stream`]).
    Generated(Box<generated::GeneratedCursor>),
}

impl ResourceStream {
    /// The next batch (never empty), or `None` at the end. A batch may hold
    /// the resources of several beneficiaries, and one beneficiary's
    /// resources may span several batches. Runs on a thread that may block
    /// (never an async worker): the generator runs right here, on the
    /// caller's warm caches, and the database is reached through `runtime`.
    pub fn next_batch_blocking(
        &mut self,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Option<ResourceBatch>, SourceError> {
        let mut batch = self.empty_batch();
        let filled = match &mut self.cursor {
            SourceCursor::Stored(c) => runtime.block_on(c.fill(&mut batch)),
            SourceCursor::Generated(c) => {
                c.fill(&mut batch);
                Ok(())
            }
        };
        filled?;
        Ok(self.finished(batch))
    }

    /// An empty batch in a spare buffer, with room for a full batch and the
    /// resource that runs over, so the buffer is not regrown (and copied)
    /// while it fills.
    fn empty_batch(&mut self) -> ResourceBatch {
        let mut ndjson = self.spare.pop().unwrap_or_default();
        ndjson.clear();
        // A buffer a big pack grew gives its memory back (memory holds a
        // few batches, not a few of the biggest beneficiaries).
        ndjson.shrink_to(BATCH_CAPACITY);
        ndjson.reserve(BATCH_CAPACITY);
        ResourceBatch {
            ndjson,
            ..ResourceBatch::default()
        }
    }

    /// The batch, or `None` (its buffer kept) if it is empty: the end.
    fn finished(&mut self, batch: ResourceBatch) -> Option<ResourceBatch> {
        if batch.resources == 0 {
            self.spare.push(batch.ndjson);
            return None;
        }
        Some(batch)
    }

    /// Lets the stored source hand over packs compressed at `level` (see
    /// [`ResourceBatch::packs`]) for beneficiaries whose every resource the
    /// query keeps, instead of their lines. For a consumer that writes gzip
    /// at that level; the generator has no packs.
    pub fn accept_packs(&mut self, level: u32) {
        if let SourceCursor::Stored(cursor) = &mut self.cursor {
            cursor.accept_packs(level);
        }
    }

    /// Hands a buffer (a consumed batch's, or one from a pool) to the
    /// stream for its next batches.
    pub fn recycle(&mut self, buffer: Vec<u8>) {
        self.spare.push(buffer);
    }

    /// The buffers the stream holds and has not filled, to reuse elsewhere.
    pub fn into_buffers(self) -> Vec<Vec<u8>> {
        self.spare
    }
}
