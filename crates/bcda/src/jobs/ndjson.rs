//! Writing one output file: NDJSON lines, gzip-compressed, to a temporary
//! name; counted and hashed on the way; renamed into place only when whole.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::store::job_files::NewJobFile;
use crate::store::tasks::ClaimedTask;

/// The buffer between the compressor and the file. gzip output is about a
/// tenth of its input, so 128 KiB gathers over a megabyte of NDJSON per
/// write; a larger buffer per task only added to the memory the allocator
/// holds between tasks.
pub const WRITE_BUFFER: usize = 128 * 1024;

/// A file being written.
pub struct NdjsonWriter {
    temp: PathBuf,
    encoder: GzEncoder<BufWriter<File>>,
    hasher: Sha256,
    lines: u64,
    bytes: u64,
}

impl std::fmt::Debug for NdjsonWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NdjsonWriter")
            .field("temp", &self.temp)
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

/// A finished file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Lines (resources).
    pub lines: u64,
    /// Uncompressed bytes.
    pub ndjson_bytes: u64,
    /// Bytes on disk (gzip).
    pub stored_bytes: u64,
    /// SHA-256 of the uncompressed bytes, hex.
    pub sha256: String,
}

impl WrittenFile {
    /// The `job_files` row recording this file as `name` of the task's
    /// job: listed under the manifest's `output` as `resource_type`, or
    /// under `error` (`OperationOutcome`).
    pub fn job_file<'a>(
        &'a self,
        task: &ClaimedTask,
        name: &'a str,
        resource_type: &'a str,
        is_error: bool,
        now: OffsetDateTime,
    ) -> NewJobFile<'a> {
        NewJobFile {
            job_id: task.job_id,
            task_id: Some(task.id),
            name,
            resource_type,
            is_error,
            resource_count: i64::try_from(self.lines).unwrap_or(i64::MAX),
            ndjson_bytes: i64::try_from(self.ndjson_bytes).unwrap_or(i64::MAX),
            stored_bytes: i64::try_from(self.stored_bytes).unwrap_or(i64::MAX),
            sha256: &self.sha256,
            created_at: now,
        }
    }
}

impl NdjsonWriter {
    /// Starts writing at `temp` (its directory is created).
    pub fn create(temp: &Path, level: u32) -> std::io::Result<Self> {
        if let Some(dir) = temp.parent() {
            crate::files::private::create_dir_all(dir)?;
        }
        let file = crate::files::private::create_file(temp)?;
        Ok(Self {
            temp: temp.to_owned(),
            encoder: GzEncoder::new(
                BufWriter::with_capacity(WRITE_BUFFER, file),
                Compression::new(level.min(9)),
            ),
            hasher: Sha256::new(),
            lines: 0,
            bytes: 0,
        })
    }

    /// Appends one resource (a line without its newline).
    pub fn write_line(&mut self, json: &[u8]) -> std::io::Result<()> {
        self.encoder.write_all(json)?;
        self.encoder.write_all(b"\n")?;
        self.hasher.update(json);
        self.hasher.update(b"\n");
        self.lines += 1;
        self.bytes += json.len() as u64 + 1;
        Ok(())
    }

    /// Appends `lines` resources given as NDJSON (every line already ends
    /// in a newline): one compressor call and one hash update for the lot.
    pub fn write_ndjson(&mut self, ndjson: &[u8], lines: usize) -> std::io::Result<()> {
        self.encoder.write_all(ndjson)?;
        self.hasher.update(ndjson);
        self.lines += lines as u64;
        self.bytes += ndjson.len() as u64;
        Ok(())
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Finishes the gzip stream, syncs, and moves the file to `destination`.
    pub fn finish(self, destination: &Path) -> std::io::Result<WrittenFile> {
        let mut buffered = self.encoder.finish()?;
        buffered.flush()?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let stored_bytes = file.metadata()?.len();
        drop(file);
        std::fs::rename(&self.temp, destination)?;
        Ok(WrittenFile {
            lines: self.lines,
            ndjson_bytes: self.bytes,
            stored_bytes,
            sha256: self
                .hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        })
    }

    /// Gives up on the file and removes it.
    pub fn discard(self) {
        let temp = self.temp.clone();
        drop(self);
        let _ = std::fs::remove_file(temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_counts_hashes_and_renames() {
        let dir = tempfile::tempdir().expect("tempdir");
        let temp = dir.path().join("x/.a.tmp");
        let mut w = NdjsonWriter::create(&temp, 6).expect("create");
        w.write_line(b"{\"a\":1}").expect("write");
        w.write_line(b"{\"b\":2}").expect("write");
        let dest = dir.path().join("x/a.ndjson.gz");
        let written = w.finish(&dest).expect("finish");
        assert!(!temp.exists());
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(&dest).expect("open"))
            .read_to_string(&mut text)
            .expect("gunzip");
        assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(written.lines, 2);
        assert_eq!(written.ndjson_bytes, text.len() as u64);
        let expected: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(written.sha256, expected);
        assert_eq!(
            written.stored_bytes,
            std::fs::metadata(&dest).expect("meta").len()
        );
    }
}
