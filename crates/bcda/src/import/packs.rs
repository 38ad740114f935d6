//! The packs an import leaves (`store::resource_packs`): each
//! beneficiary's exportable resources of a type, pre-compressed, so that
//! exports copy them instead of reading and compressing row after row.
//!
//! Most files hold each beneficiary's resources together (BFD writes them
//! so, and `bcda synthetic` does). The import's compressor thread, between
//! the parser and the writer, makes a pack of each such run of lines as it
//! closes ([`RunPacker`]): the run's exportable lines in the export's
//! order, compressed. The writer then keeps a run's pack only if the store held
//! nothing of that beneficiary and type before, and the run is the
//! beneficiary's only one in the file ([`PackTracker`]); the store checks
//! the count again when the pack goes in, after the run's rows. Everything
//! else (a beneficiary that had data, lines scattered through the file,
//! a run too big to hold) is packed from the stored rows at the end of the
//! file, in its transaction: slower, but rare, and never wrong.

use std::collections::HashSet;
use std::ops::Range;

use super::resource_line::{Link, ParsedLine};
use crate::clock::to_epoch_ms;
use crate::domain::{ApiVersion, ResourceType};
use crate::formats::deflate_segments::SegmentBuilder;
use crate::store::resource_packs::{self, MAX_PACK_BYTES, NewPack, PackKey};
use crate::store::resources::date_ms;
use crate::store::{StoreError, Tx};

/// The deflate level packs are compressed at: the export's default
/// (`BCDA_GZIP_LEVEL`). Exports at another level read the rows.
pub const PACK_LEVEL: u32 = 1;

/// Keys remembered per file; past this, runs are packed from the rows.
const MAX_SEEN: usize = 2_000_000;

/// What the compressor thread made of a run of lines when it closed.
#[derive(Debug)]
pub(super) struct ParsedPack {
    /// The run's first line.
    first_line: u64,
    /// Lines in the run (Part 2 claims and repeated ids included).
    lines: u64,
    /// The pack; `None` if the run holds more than a pack may
    /// ([`MAX_PACK_BYTES`]): then the beneficiary is exported from its rows.
    pack: Option<PackData>,
}

/// A pack without its key (the compressor does not know beneficiary rows).
#[derive(Debug)]
struct PackData {
    resource_count: i64,
    ndjson_bytes: i64,
    first_updated: i64,
    last_updated: i64,
    last_service_end: Option<i64>,
    deflated: Vec<u8>,
}

/// The compressor thread's side: gathers consecutive lines of one beneficiary and
/// type, and packs them when the run ends.
#[derive(Debug, Default)]
pub(super) struct RunPacker {
    run: Option<Run>,
}

/// One run of lines being gathered.
#[derive(Debug)]
struct Run {
    /// The resource type and how the lines name their beneficiary.
    key: (ResourceType, String),
    first_line: u64,
    lines: u64,
    rows: Vec<RunRow>,
    bodies: Vec<u8>,
    too_big: bool,
}

#[derive(Debug)]
struct RunRow {
    last_updated: i64,
    id: String,
    service_end: Option<i64>,
    samhsa: bool,
    body: Range<usize>,
}

impl RunPacker {
    /// Takes the next line in file order; returns the pack of the run it
    /// closes (the one before it), to go with the line before it.
    pub(super) fn line(&mut self, line: &ParsedLine) -> Option<ParsedPack> {
        let key = match &line.resource {
            Ok(r) if PackKey::is_packed_type(r.resource_type) => {
                let link = match &line.link {
                    Link::Patient { mbi } | Link::Mbi(mbi) => mbi.as_str(),
                    Link::Reference { reference, .. } => reference.as_str(),
                };
                Some((r.resource_type, link))
            }
            _ => None,
        };
        let same = matches!((&self.run, key), (Some(run), Some((t, l))) if run.key.0 == t && run.key.1 == l);
        let closed = if same { None } else { self.finish() };
        if let (Some((resource_type, link)), Ok(resource)) = (key, &line.resource) {
            let run = self.run.get_or_insert_with(|| Run {
                key: (resource_type, link.to_owned()),
                first_line: line.number,
                lines: 0,
                rows: Vec::new(),
                bodies: Vec::new(),
                too_big: false,
            });
            run.lines += 1;
            // Each body and its newline: what the pack's text would be at most.
            if !run.too_big
                && run.bodies.len() + run.rows.len() + resource.body.len() >= MAX_PACK_BYTES
            {
                run.too_big = true;
                run.rows = Vec::new();
                run.bodies = Vec::new();
            }
            if !run.too_big {
                let start = run.bodies.len();
                run.bodies.extend_from_slice(&resource.body);
                run.rows.push(RunRow {
                    last_updated: to_epoch_ms(resource.last_updated),
                    id: resource.resource_id.clone(),
                    service_end: resource.service_end.map(date_ms),
                    samhsa: resource.samhsa,
                    body: start..run.bodies.len(),
                });
            }
        }
        closed
    }

    /// Closes the current run (at the end of the file): its pack, if any.
    pub(super) fn finish(&mut self) -> Option<ParsedPack> {
        let run = self.run.take()?;
        let pack = if run.too_big {
            None
        } else {
            pack_run(run.rows, &run.bodies)
        };
        Some(ParsedPack {
            first_line: run.first_line,
            lines: run.lines,
            pack,
        })
    }
}

/// The run's pack: of rows with the same id the last one (what storing
/// them in turn leaves), Part 2 claims left out, in `(lastUpdated, id)`
/// order, the order of the export scan (ids compared byte-wise, as both
/// databases do).
fn pack_run(rows: Vec<RunRow>, bodies: &[u8]) -> Option<PackData> {
    let mut last_of_id = std::collections::HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        last_of_id.insert(row.id.as_str(), i);
    }
    let mut kept: Vec<&RunRow> = rows
        .iter()
        .enumerate()
        .filter(|(i, row)| last_of_id.get(row.id.as_str()) == Some(i) && !row.samhsa)
        .map(|(_, row)| row)
        .collect();
    kept.sort_by(|a, b| (a.last_updated, a.id.as_bytes()).cmp(&(b.last_updated, b.id.as_bytes())));
    let mut segment = SegmentBuilder::new(PACK_LEVEL);
    for row in &kept {
        segment.write(&bodies[row.body.clone()]).ok()?;
        segment.write(b"\n").ok()?;
    }
    let segment = segment.finish().ok()?;
    Some(PackData {
        resource_count: i64::try_from(kept.len()).ok()?,
        ndjson_bytes: i64::try_from(segment.text_bytes).ok()?,
        first_updated: kept
            .iter()
            .map(|r| r.last_updated)
            .min()
            .unwrap_or(i64::MAX),
        last_updated: kept
            .iter()
            .map(|r| r.last_updated)
            .max()
            .unwrap_or(i64::MIN),
        last_service_end: kept.iter().filter_map(|r| r.service_end).max(),
        deflated: segment.deflated,
    })
}

/// The writer's side: which runs' packs may be kept, which beneficiaries
/// must be packed from the rows, and the packs waiting for their rows to be
/// stored.
#[derive(Debug)]
pub(super) struct PackTracker {
    version: ApiVersion,
    run: Option<WriterRun>,
    /// Keys that have had a run in this file.
    seen: HashSet<PackKey>,
    /// Keys to pack from the rows at the end of the file.
    dirty: HashSet<PackKey>,
    /// Packs whose rows are not all stored yet.
    pending: Vec<NewPack>,
}

#[derive(Debug)]
struct WriterRun {
    key: PackKey,
    first_line: u64,
    lines: u64,
    /// The store held nothing of the key before, and the file had no
    /// earlier run of it.
    fresh: bool,
}

impl PackTracker {
    /// Tracks a file of `version` resources.
    pub(super) fn new(version: ApiVersion) -> Self {
        Self {
            version,
            run: None,
            seen: HashSet::new(),
            dirty: HashSet::new(),
            pending: Vec::new(),
        }
    }

    /// Takes the next line (before its row is stored): its beneficiary's
    /// row id and type, and the pack the compressor made if the line ends a run.
    pub(super) async fn line(
        &mut self,
        tx: &mut Tx,
        number: u64,
        beneficiary_id: i64,
        resource_type: ResourceType,
        pack: Option<Box<ParsedPack>>,
    ) -> Result<(), StoreError> {
        if !PackKey::is_packed_type(resource_type) {
            self.close_run();
            return Ok(());
        }
        let key = PackKey {
            beneficiary_id,
            version: self.version,
            resource_type,
        };
        if self.run.as_ref().is_none_or(|run| run.key != key) {
            self.close_run();
            let fresh = if self.seen.contains(&key) || self.seen.len() >= MAX_SEEN {
                false
            } else {
                self.seen.insert(key);
                !resource_packs::rows_exist(tx, key).await?
            };
            self.run = Some(WriterRun {
                key,
                first_line: number,
                lines: 0,
                fresh,
            });
        }
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        run.lines += 1;
        if let Some(parsed) = pack {
            // The compressor's run ends here: the writer's ends too.
            let run = self.run.take();
            match (run, parsed.pack) {
                // Too big for a pack, and the store had nothing of it
                // before: exported from its rows.
                (Some(run), None) if run.fresh && parsed.first_line == run.first_line => {}
                (Some(run), Some(data))
                    if run.fresh
                        && parsed.first_line == run.first_line
                        && parsed.lines == run.lines =>
                {
                    self.pending.push(NewPack {
                        key,
                        level: PACK_LEVEL,
                        resource_count: data.resource_count,
                        ndjson_bytes: data.ndjson_bytes,
                        first_updated: data.first_updated,
                        last_updated: data.last_updated,
                        last_service_end: data.last_service_end,
                        deflated: data.deflated,
                    });
                }
                _ => {
                    self.dirty.insert(key);
                }
            }
        }
        Ok(())
    }

    /// The current run ends without a pack of the compressor's.
    fn close_run(&mut self) {
        if let Some(run) = self.run.take() {
            self.dirty.insert(run.key);
        }
    }

    /// After rows were stored: stores the packs waiting for them (each
    /// checked against the rows; one that does not match is packed from
    /// the rows at the end instead).
    pub(super) async fn rows_stored(&mut self, tx: &mut Tx) -> Result<(), StoreError> {
        for pack in std::mem::take(&mut self.pending) {
            if !resource_packs::insert_checked(tx, &pack).await? {
                self.dirty.insert(pack.key);
            }
        }
        Ok(())
    }

    /// At the end of the file (every row stored, [`Self::rows_stored`]
    /// called): packs from the rows each beneficiary left without a pack.
    /// One whose pack is still there (a file stored again unchanged leaves
    /// the rows, and so their pack, as they were) is left alone.
    pub(super) async fn finish(mut self, tx: &mut Tx) -> Result<(), StoreError> {
        self.rows_stored(tx).await?;
        self.close_run();
        let mut dirty: Vec<PackKey> = self.dirty.into_iter().collect();
        dirty.sort_by_key(|k| (k.beneficiary_id, k.resource_type as u8));
        for key in dirty {
            if !resource_packs::exists(tx, key).await? {
                resource_packs::rebuild(tx, key, PACK_LEVEL).await?;
            }
        }
        Ok(())
    }
}
