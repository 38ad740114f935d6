//! The machine's limit for the export's unavoidable work: gzip, at the
//! server's level, of exactly the NDJSON bytes the export produced, and
//! writing the compressed output to the same disk (each file synced, as the
//! server syncs each file), parallel across files on every core.
//!
//! The NDJSON is recovered by inflating the export's own files in bounded
//! chunks. Inflating is not part of the limit, so each thread times only
//! its deflate, write and sync calls; the limit is the busiest thread's
//! total, which is what the wall clock would show if the bytes were
//! already in memory.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// Uncompressed bytes handed to the compressor at a time.
const CHUNK: usize = 1 << 20;

/// The compressor's output buffer: a directory store's upload part size.
const WRITE_BUFFER: usize = 1 << 20;

/// What the limit run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The busiest thread's deflate + write + sync seconds.
    pub seconds: f64,
    /// Wall-clock seconds of the whole run, inflating included.
    pub wall_seconds: f64,
    /// NDJSON bytes compressed.
    pub ndjson_bytes: u64,
    /// Compressed bytes written.
    pub compressed_bytes: u64,
}

/// Re-compresses each of `inputs` (gzip files) at `level` into `out_dir`
/// on `threads` threads.
pub fn measure(
    inputs: &[PathBuf],
    out_dir: &Path,
    level: u32,
    threads: usize,
) -> std::io::Result<Limit> {
    std::fs::create_dir_all(out_dir)?;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Mutex<Vec<std::io::Result<ThreadTotals>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let totals = run_thread(inputs, &next, out_dir, level);
                if let Ok(mut results) = results.lock() {
                    results.push(totals);
                }
            });
        }
    });
    let wall_seconds = started.elapsed().as_secs_f64();
    let results = results
        .into_inner()
        .map_err(|_| std::io::Error::other("a limit thread panicked"))?;
    let mut limit = Limit {
        seconds: 0.0,
        wall_seconds,
        ndjson_bytes: 0,
        compressed_bytes: 0,
    };
    for totals in results {
        let totals = totals?;
        limit.seconds = limit.seconds.max(totals.busy.as_secs_f64());
        limit.ndjson_bytes += totals.ndjson_bytes;
        limit.compressed_bytes += totals.compressed_bytes;
    }
    Ok(limit)
}

#[derive(Debug, Default)]
struct ThreadTotals {
    busy: Duration,
    ndjson_bytes: u64,
    compressed_bytes: u64,
}

/// Takes files from the shared queue until it is empty.
fn run_thread(
    inputs: &[PathBuf],
    next: &AtomicUsize,
    out_dir: &Path,
    level: u32,
) -> std::io::Result<ThreadTotals> {
    let mut totals = ThreadTotals::default();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(input) = inputs.get(index) else {
            return Ok(totals);
        };
        let mut reader = GzDecoder::new(BufReader::with_capacity(CHUNK, File::open(input)?));
        let name = input.file_name().unwrap_or_default();
        let timed = Instant::now();
        // The server's writer stack in a directory store: the compressor
        // writing into part-sized buffers that go to the file whole.
        let mut encoder = GzEncoder::new(
            BufWriter::with_capacity(WRITE_BUFFER, File::create(out_dir.join(name))?),
            Compression::new(level.min(9)),
        );
        totals.busy += timed.elapsed();
        loop {
            let n = fill(&mut reader, &mut chunk)?;
            if n == 0 {
                break;
            }
            let timed = Instant::now();
            encoder.write_all(&chunk[..n])?;
            totals.busy += timed.elapsed();
            totals.ndjson_bytes += n as u64;
        }
        let timed = Instant::now();
        let file = encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        totals.busy += timed.elapsed();
        totals.compressed_bytes += file.metadata()?.len();
    }
}

/// Reads until `buffer` is full or the input ends; returns the bytes read.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
