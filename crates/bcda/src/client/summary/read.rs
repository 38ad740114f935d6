//! Finding a directory's NDJSON files and reading one, line by line, into a
//! [`Tally`]: streamed through one reused line buffer, gzip inflated on the
//! way, so memory stays flat whatever the file's size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use flate2::bufread::MultiGzDecoder;
use serde::de::IgnoredAny;

use super::line::Line;
use super::tally::Tally;
use super::{FileCounts, LineProblem, SummaryError};

/// The longest line read: beyond it a file is not NDJSON (a binary file
/// without newlines would otherwise be read whole). BFD's largest
/// resources are a few hundred kilobytes.
pub const MAX_LINE_BYTES: u64 = 64 << 20;

/// Whether a file name is one of an export's NDJSON files: `.ndjson` or
/// `.ndjson.gz`, not hidden. The downloader's temporary files (`.part`)
/// and its manifest and state (`.json`) end otherwise.
pub fn is_ndjson_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".ndjson") || name.ends_with(".ndjson.gz"))
}

/// Every NDJSON file under `dir`, recursively, sorted by path. Hidden
/// directories are not entered, nor symbolic links to directories (a link
/// cannot make the walk loop).
pub fn find(dir: &Path) -> Result<Vec<PathBuf>, SummaryError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| SummaryError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| SummaryError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| SummaryError::Io {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                if !name.starts_with('.') {
                    pending.push(path);
                }
            } else if is_ndjson_name(name) && (kind.is_file() || path.is_file()) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads `paths` on as many threads as there are cores (at most one per
/// file), each taking the next unread file: the merged tally and the file
/// counts, or the error of the first file (in `paths` order) that failed.
pub fn read_all(paths: &[PathBuf]) -> Result<(Tally, FileCounts), SummaryError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(paths.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, SummaryError)>> = Mutex::new(None);
    let results: Vec<(Tally, FileCounts)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut tally = Tally::default();
                    let mut files = FileCounts::default();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            break;
                        };
                        match read(path) {
                            Ok((file_tally, file)) => {
                                tally.merge(file_tally);
                                files.add(file);
                            }
                            Err(e) => {
                                // Every file before this one was taken
                                // already and is read to its end; those
                                // after need not be.
                                failed.store(true, Ordering::Relaxed);
                                let mut first =
                                    first_error.lock().unwrap_or_else(|p| p.into_inner());
                                if first.as_ref().is_none_or(|(j, _)| i < *j) {
                                    *first = Some((i, e));
                                }
                            }
                        }
                    }
                    (tally, files)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    if let Some((_, e)) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut tally = Tally::default();
    let mut files = FileCounts::default();
    for (t, f) in results {
        tally.merge(t);
        files.add(f);
    }
    Ok((tally, files))
}

/// Reads `path` into a tally of its own, with its counts as a file. A file is gzip when it starts as
/// gzip does (whatever its name says: a `.ndjson` file that was kept as
/// served with `Content-Encoding: gzip` is read all the same); several
/// gzip members in a row are one stream.
pub fn read(path: &Path) -> Result<(Tally, FileCounts), SummaryError> {
    let io = |source| SummaryError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let stored_bytes = file.metadata().map_err(io)?.len();
    let mut raw = BufReader::with_capacity(256 << 10, file);
    let gzip = raw.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut tally = Tally::default();
    let ndjson_bytes = if gzip {
        let inflated = BufReader::with_capacity(256 << 10, MultiGzDecoder::new(raw));
        read_lines(path, inflated, &mut tally)?
    } else {
        read_lines(path, raw, &mut tally)?
    };
    Ok((
        tally,
        FileCounts {
            count: 1,
            gzip: u64::from(gzip),
            stored_bytes,
            ndjson_bytes,
        },
    ))
}

/// Counts each line of `reader` into `tally`; the bytes read. Blank lines
/// are passed over.
fn read_lines(
    path: &Path,
    mut reader: impl BufRead,
    tally: &mut Tally,
) -> Result<u64, SummaryError> {
    let mut buffer = Vec::with_capacity(64 << 10);
    let mut line_number = 0u64;
    let mut total = 0u64;
    loop {
        buffer.clear();
        let read = reader
            .by_ref()
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(|source| SummaryError::Read {
                path: path.to_owned(),
                after_line: line_number,
                source,
            })?;
        if read == 0 {
            return Ok(total);
        }
        line_number += 1;
        total += read as u64;
        let problem_at = |problem| SummaryError::Line {
            path: path.to_owned(),
            line: line_number,
            problem,
        };
        if read as u64 > MAX_LINE_BYTES && buffer.last() != Some(&b'\n') {
            return Err(problem_at(LineProblem::TooLong));
        }
        let text = buffer.trim_ascii();
        if text.is_empty() {
            continue;
        }
        // A derived struct would also take an array, field by position.
        if !text.starts_with(b"{") {
            let problem = match serde_json::from_slice::<IgnoredAny>(text) {
                Ok(_) => LineProblem::NotAnObject,
                Err(e) => LineProblem::NotJson(describe(&e)),
            };
            return Err(problem_at(problem));
        }
        let line: Line<'_> = serde_json::from_slice(text).map_err(|e| {
            problem_at(if e.is_data() {
                LineProblem::UnexpectedShape(describe(&e))
            } else {
                LineProblem::NotJson(describe(&e))
            })
        })?;
        tally.add(&line, read as u64).map_err(problem_at)?;
    }
}

/// serde_json's message with its position as a column only: the line it
/// counts is always 1 (one NDJSON line is parsed at a time), and the line
/// number that matters is the file's.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message}, column {}", e.column()),
        None => text,
    }
}
