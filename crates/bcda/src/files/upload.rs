//! Writing one file to the store as a streaming multipart upload, through
//! `std::io::Write`, from a blocking thread (the compressor's).
//!
//! Bytes gather in one part-sized buffer; each full part is handed to the
//! upload and sent while the next fills, with at most [`PARTS_IN_FLIGHT`]
//! parts outstanding, so memory stays at a few parts whatever the file's
//! size and nothing is staged on local disk first. The file appears under
//! its key only when [`UploadWriter::finish`] completes the upload; a
//! failure or [`UploadWriter::abort`] aborts it, and a writer dropped
//! without either leaves an incomplete upload that never becomes visible.

use std::io::{self, Write};
use std::path::PathBuf;

use bytes::BytesMut;
use object_store::{MultipartUpload, WriteMultipart};
use tokio::runtime::Handle;

/// Parts being sent while the next one fills: enough to keep an object
/// store's connection busy, few enough that memory stays flat.
pub const PARTS_IN_FLIGHT: usize = 2;

/// A file being uploaded.
pub struct UploadWriter {
    upload: Option<WriteMultipart>,
    part: BytesMut,
    part_size: usize,
    runtime: Handle,
    written: u64,
    /// A directory store's final path, made owner-only once complete.
    local_path: Option<PathBuf>,
}

impl std::fmt::Debug for UploadWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadWriter")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

fn store_error(error: object_store::Error) -> io::Error {
    io::Error::other(error.to_string())
}

fn finished() -> io::Error {
    io::Error::other("the upload has already finished or failed")
}

impl UploadWriter {
    /// A writer over a started upload, in parts of `part_size` bytes
    /// (S3 requires at least 5 MiB but for the last). `runtime` runs the
    /// part uploads; the writer's methods block on it, so they must be
    /// called from a thread that may block.
    pub fn new(
        upload: Box<dyn MultipartUpload>,
        part_size: usize,
        runtime: Handle,
        local_path: Option<PathBuf>,
    ) -> Self {
        Self {
            upload: Some(WriteMultipart::new_with_chunk_size(upload, part_size)),
            part: BytesMut::with_capacity(part_size),
            part_size,
            runtime,
            written: 0,
            local_path,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Sends the buffered part and waits until fewer than
    /// [`PARTS_IN_FLIGHT`] are outstanding. A failed part aborts the
    /// upload and fails this call (and every later one).
    fn send_part(&mut self) -> io::Result<()> {
        let upload = self.upload.as_mut().ok_or_else(finished)?;
        let part = self.part.split().freeze();
        self.part.reserve(self.part_size);
        {
            // The upload spawns the part's request on the runtime.
            let _entered = self.runtime.enter();
            upload.put(part);
        }
        if let Err(e) = self
            .runtime
            .block_on(upload.wait_for_capacity(PARTS_IN_FLIGHT))
        {
            self.abort_upload();
            return Err(store_error(e));
        }
        Ok(())
    }

    fn abort_upload(&mut self) {
        if let Some(upload) = self.upload.take()
            && let Err(e) = self.runtime.block_on(upload.abort())
        {
            tracing::debug!(error = %e, "could not abort an upload");
        }
    }

    /// Sends what remains and completes the upload: the file is visible
    /// from now on. Returns its size in bytes.
    pub fn finish(mut self) -> io::Result<u64> {
        let mut upload = self.upload.take().ok_or_else(finished)?;
        if !self.part.is_empty() {
            let _entered = self.runtime.enter();
            upload.put(self.part.split().freeze());
        }
        // `finish` aborts the upload itself when a part or the completion fails.
        self.runtime
            .block_on(upload.finish())
            .map_err(store_error)?;
        if let Some(path) = &self.local_path {
            super::private::restrict_file(path)?;
        }
        Ok(self.written)
    }

    /// Gives up on the file: the upload is aborted and nothing appears.
    pub fn abort(mut self) {
        self.abort_upload();
    }
}

impl Write for UploadWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.upload.is_none() {
            return Err(finished());
        }
        let room = self.part_size - self.part.len();
        let taken = buf.len().min(room);
        self.part.extend_from_slice(&buf[..taken]);
        self.written += taken as u64;
        if self.part.len() >= self.part_size {
            self.send_part()?;
        }
        Ok(taken)
    }

    /// Parts are sent when full (an object store refuses small ones but
    /// for the last), so there is nothing to flush early.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStore, ObjectStoreExt};

    use super::*;

    #[test]
    fn uploads_in_parts_and_appears_only_when_finished() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let key = Path::from("exports/1/a.ndjson.gz");
        let upload = runtime.block_on(store.put_multipart(&key)).expect("upload");
        let mut writer = UploadWriter::new(upload, 1024, runtime.handle().clone(), None);
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(700) {
            writer.write_all(chunk).expect("write");
        }
        assert!(
            runtime.block_on(store.head(&key)).is_err(),
            "visible before it is whole"
        );
        assert_eq!(writer.finish().expect("finish"), 10_000);
        let stored = runtime
            .block_on(async { store.get(&key).await?.bytes().await })
            .expect("read");
        assert_eq!(stored.as_ref(), data.as_slice());

        let aborted = Path::from("exports/1/b.ndjson.gz");
        let upload = runtime
            .block_on(store.put_multipart(&aborted))
            .expect("upload");
        let mut writer = UploadWriter::new(upload, 1024, runtime.handle().clone(), None);
        writer.write_all(&data).expect("write");
        writer.abort();
        assert!(runtime.block_on(store.head(&aborted)).is_err());
    }
}
