//! Writing one output file: NDJSON lines, gzip-compressed, streamed to the
//! file store as they are compressed; counted and hashed on the way;
//! visible under its name only when whole. Stored beneficiaries' packs,
//! compressed when they were imported, are copied into the gzip stream
//! as they are ([`crate::formats::deflate_segments`]).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::domain::task::Cohort;
use crate::files::upload::UploadWriter;
use crate::formats::deflate_segments::{GzipAssembler, SegmentInflater, count_newlines};
use crate::store::job_files::NewJobFile;
use crate::store::tasks::ClaimedTask;

/// A file being written.
pub struct NdjsonWriter {
    encoder: GzipAssembler<UploadWriter>,
    hasher: Sha256,
    /// Inflates the packs too big for a batch.
    inflater: SegmentInflater,
    scratch: Vec<u8>,
    lines: u64,
    bytes: u64,
}

impl std::fmt::Debug for NdjsonWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NdjsonWriter")
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
    /// Bytes stored (gzip).
    pub stored_bytes: u64,
    /// SHA-256 of the uncompressed bytes, hex.
    pub sha256: String,
}

impl WrittenFile {
    /// The `job_files` row recording this file as `name` of the task's
    /// job: listed under the manifest's `output` as `resource_type`, or
    /// under `error` (`OperationOutcome`); marked with the `cohort` of a
    /// Group/all `_since` export's task.
    pub fn job_file<'a>(
        &'a self,
        task: &ClaimedTask,
        name: &'a str,
        resource_type: &'a str,
        is_error: bool,
        cohort: Option<Cohort>,
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
            cohort,
            created_at: now,
        }
    }
}

impl NdjsonWriter {
    /// Starts compressing into `upload` (from [`FileStore::create`](crate::files::FileStore::create)).
    pub fn new(upload: UploadWriter, level: u32) -> Self {
        Self {
            encoder: GzipAssembler::new(upload, level),
            hasher: Sha256::new(),
            inflater: SegmentInflater::default(),
            scratch: Vec::new(),
            lines: 0,
            bytes: 0,
        }
    }

    /// Appends one resource (a line without its newline).
    pub fn write_line(&mut self, json: &[u8]) -> std::io::Result<()> {
        self.encoder.write(json)?;
        self.encoder.write(b"\n")?;
        self.hasher.update(json);
        self.hasher.update(b"\n");
        self.lines += 1;
        self.bytes += json.len() as u64 + 1;
        Ok(())
    }

    /// Appends `lines` resources given as NDJSON (every line already ends
    /// in a newline): one compressor call and one hash update for the lot.
    pub fn write_ndjson(&mut self, ndjson: &[u8], lines: usize) -> std::io::Result<()> {
        self.encoder.write(ndjson)?;
        self.hasher.update(ndjson);
        self.lines += lines as u64;
        self.bytes += ndjson.len() as u64;
        Ok(())
    }

    /// Appends a stored pack without compressing it again: `deflated`
    /// (raw deflate from the importer), whose text, `lines` lines of
    /// NDJSON, is `text` (inflated and checked by the reader), or, when
    /// `None`, is inflated here piece by piece. A pack found damaged here is
    /// an `InvalidData` error: the file must then be discarded.
    pub fn write_pack(
        &mut self,
        deflated: &[u8],
        text: Option<&[u8]>,
        lines: usize,
    ) -> std::io::Result<()> {
        let bytes = match text {
            Some(text) => {
                self.encoder.append_segment(deflated, text)?;
                self.hasher.update(text);
                text.len()
            }
            None => {
                self.encoder.begin_segment(deflated)?;
                let (encoder, hasher) = (&mut self.encoder, &mut self.hasher);
                let (mut newlines, mut last) = (0, b'\n');
                let bytes = self
                    .inflater
                    .inflate_each(deflated, &mut self.scratch, |piece| {
                        encoder.segment_text(piece);
                        hasher.update(piece);
                        newlines += count_newlines(piece);
                        last = piece.last().copied().unwrap_or(last);
                    })?;
                if newlines != lines || last != b'\n' {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("a stored pack is damaged: it holds {newlines} lines, not {lines}"),
                    ));
                }
                bytes
            }
        };
        self.lines += lines as u64;
        self.bytes += bytes as u64;
        Ok(())
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Finishes the gzip stream and completes the upload: the file is in
    /// place. Blocks (call on a thread that may).
    pub fn finish(self) -> std::io::Result<WrittenFile> {
        let upload = self.encoder.finish()?;
        let stored_bytes = upload.finish()?;
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

    /// Gives up on the file: its upload is aborted, nothing appears.
    /// Blocks (call on a thread that may).
    pub fn discard(self) {
        // The gzip trailer is not wanted; whatever the encoder still holds
        // goes with the aborted upload.
        self.encoder.into_inner().abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::StoreLocation;
    use std::io::Read;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn writes_counts_hashes_and_places() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StoreLocation::Directory(dir.path().to_owned())
            .open(dir.path())
            .expect("store");
        let upload = store.create(1, "a.ndjson").await.expect("create");
        let dest = store.path(1, "a.ndjson").expect("a directory store");
        let written = tokio::task::spawn_blocking({
            let dest = dest.clone();
            move || {
                let mut w = NdjsonWriter::new(upload, 6);
                w.write_line(b"{\"a\":1}")?;
                w.write_line(b"{\"b\":2}")?;
                assert!(!dest.exists(), "in place before it is whole");
                w.finish()
            }
        })
        .await
        .expect("join")
        .expect("write");
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&dest).expect("open"))
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn packs_are_copied_whether_inflated_by_the_reader_or_here() {
        use crate::formats::deflate_segments::SegmentBuilder;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StoreLocation::Directory(dir.path().to_owned())
            .open(dir.path())
            .expect("store");
        let refused_upload = store.create(1, "refused.ndjson").await.expect("create");
        let upload = store.create(1, "p.ndjson").await.expect("create");
        let dest = store.path(1, "p.ndjson").expect("a directory store");
        let pack = |text: &[u8]| {
            let mut b = SegmentBuilder::new(1);
            b.write(text).expect("write");
            b.finish().expect("finish").deflated
        };
        let (a, b) = (b"{\"a\":1}\n{\"a\":2}\n".to_vec(), b"{\"b\":1}\n".to_vec());
        let (pack_a, pack_b) = (pack(&a), pack(&b));
        let written = tokio::task::spawn_blocking(move || {
            // A pack whose text is not what it says is refused.
            let mut w = NdjsonWriter::new(refused_upload, 1);
            let refused = w.write_pack(&pack_b, None, 2).expect_err("line count");
            assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData);
            w.discard();
            let mut w = NdjsonWriter::new(upload, 1);
            w.write_line(b"{\"x\":0}")?;
            w.write_pack(&pack_a, Some(&a), 2)?;
            w.write_pack(&pack_b, None, 1)?;
            w.write_ndjson(b"{\"y\":0}\n", 1)?;
            w.finish()
        })
        .await
        .expect("join")
        .expect("write");
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&dest).expect("open"))
            .read_to_string(&mut text)
            .expect("gunzip");
        assert_eq!(
            text,
            "{\"x\":0}\n{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n{\"y\":0}\n"
        );
        assert_eq!(written.lines, 5);
        assert_eq!(written.ndjson_bytes, text.len() as u64);
        let expected: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(written.sha256, expected);
    }
}
