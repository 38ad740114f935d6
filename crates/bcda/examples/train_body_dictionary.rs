//! Trains the zstd dictionary that stored resource bodies are compressed
//! with (`crates/bcda/src/formats/stored_body.zdict`), from NDJSON files of
//! FHIR resources: `scripts/train-stored-body-dictionary` runs it on a
//! synthetic ACO's files of every FHIR version.
//!
//! The dictionary is part of the store's format: every body compressed
//! with it names it (its dictionary ID), and it can never change. A new one
//! would get a new ID and be added beside it, never in its place.
//!
//! Usage: `train_body_dictionary OUT FILE...`

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The dictionary's size: trained by the same zstd trainer on synthetic
/// samples, one of 64 KiB did better than 32 KiB and 110 KiB on an
/// ExplanationOfBenefit (30-fold against 27 and 24).
const DICTIONARY_BYTES: usize = 64 * 1024;

/// Sample bytes taken from each file, spread evenly over it (a smaller
/// file is taken whole). More samples made the dictionary fit the
/// ExplanationOfBenefit better, which is most of a store's bytes, and the
/// small types a little worse: an EOB of another seed compressed 17.8-fold
/// with 2 MiB per file, 23.6 with 8 and 29.0 with 32 (a Claim 12.7, 12.9
/// and 9.6-fold).
const SAMPLE_BYTES_PER_FILE: u64 = 32 << 20;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let out = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: train_body_dictionary OUT FILE..."))?;
    let mut samples = Vec::new();
    for path in args {
        let taken = sample_lines(Path::new(&path), &mut samples)?;
        eprintln!("{}: {taken} sample lines", Path::new(&path).display());
    }
    if samples.is_empty() {
        anyhow::bail!("no NDJSON lines given to train on");
    }
    let dictionary = zstd::dict::from_samples(&samples, DICTIONARY_BYTES)?;
    std::fs::write(&out, &dictionary)?;
    eprintln!(
        "{}: {} bytes trained on {} lines",
        Path::new(&out).display(),
        dictionary.len(),
        samples.len()
    );
    Ok(())
}

/// Appends about [`SAMPLE_BYTES_PER_FILE`] of `path`'s lines, every n-th
/// line, to `samples`; returns how many.
fn sample_lines(path: &Path, samples: &mut Vec<Vec<u8>>) -> anyhow::Result<usize> {
    let size = std::fs::metadata(path)?.len();
    let lines = BufReader::new(File::open(path)?).split(b'\n').count() as u64;
    // Lines of average size that make up the budget, then the stride.
    let wanted = (lines * SAMPLE_BYTES_PER_FILE / size.max(1)).max(1);
    let stride = usize::try_from((lines / wanted).max(1))?;
    let before = samples.len();
    for line in BufReader::new(File::open(path)?)
        .split(b'\n')
        .step_by(stride)
    {
        let line = line?;
        let line = line.trim_ascii();
        if !line.is_empty() {
            samples.push(line.to_vec());
        }
    }
    Ok(samples.len() - before)
}
