//! The output file store: where export files live, in a directory or in
//! S3-compatible object storage, through one interface (Apache Arrow's
//! `object_store`).
//!
//! Keys: `exports/<job id>/<name>.gz` while a job's files may be
//! downloaded, `archive/<job id>/<name>.gz` after they expire, nothing once
//! deleted. `<name>` is always a name the server generated and recorded in
//! `job_files`; request paths are never joined to a key here.
//!
//! Files are written by streaming multipart upload ([`upload`]): nothing is
//! visible under a key until the whole file is, and a writer that fails or
//! is abandoned aborts its upload. What a crashed process leaves (S3: an
//! incomplete multipart upload, removed by the bucket's lifecycle rule; a
//! directory: a staged `<key>#<n>` file) is never listed as a file, and the
//! directory's staged files go with their job's directory.
//!
//! In a directory, every directory and file is owner-only ([`private`]).

pub mod location;
pub mod private;
pub mod upload;

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt,
    PutMultipartOptions,
};
use reqwest::Method;
use tokio::runtime::Handle;

pub use self::location::StoreLocation;
use self::upload::UploadWriter;

/// The top-level prefix of downloadable files.
const EXPORTS: &str = "exports";
/// The top-level prefix of archived files.
const ARCHIVE: &str = "archive";

/// The bytes of a stored file, ready to be read from a position.
pub enum StoredBody {
    /// A local file (a directory store), not yet positioned: reading starts
    /// at `start`.
    File {
        /// The open file.
        file: std::fs::File,
        /// The first byte to read.
        start: u64,
    },
    /// The requested bytes as a stream (an object store).
    Stream(BoxStream<'static, object_store::Result<Bytes>>),
}

impl std::fmt::Debug for StoredBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { start, .. } => f.debug_struct("File").field("start", start).finish(),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

impl StoredBody {
    /// A blocking reader of the bytes, from the start of the requested
    /// range. Call on a thread that may block: a local file seeks; a
    /// stream's chunks are awaited on `runtime`.
    pub fn into_reader(self, runtime: Handle) -> std::io::Result<Box<dyn Read + Send>> {
        match self {
            Self::File { mut file, start } => {
                file.seek(SeekFrom::Start(start))?;
                Ok(Box::new(file))
            }
            Self::Stream(stream) => Ok(Box::new(StreamReader {
                stream,
                chunk: Bytes::new(),
                runtime,
            })),
        }
    }
}

/// A blocking `Read` over a stream of byte chunks.
struct StreamReader {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    chunk: Bytes,
    runtime: Handle,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(io(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// A stored file opened for reading.
#[derive(Debug)]
pub struct StoredObject {
    /// The whole file's size in bytes (whatever range was asked for).
    pub size: u64,
    /// Its bytes from the start of the requested range.
    pub body: StoredBody,
}

/// The file store of one deployment.
#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    /// The directory of a directory store: for owner-only modes, directory
    /// renames and staged files (none for an object store).
    local_root: Option<PathBuf>,
    /// Where the files are, for logs and messages (`s3://bucket/prefix`, a
    /// directory).
    description: String,
    /// Bytes per uploaded part.
    part_size: usize,
    /// An S3 store's signer and key prefix, for presigned download URLs;
    /// the store then also keeps each file's HTTP headers with it.
    presigner: Option<Presigner>,
}

/// What makes presigned URLs for an S3 store's files.
#[derive(Clone)]
pub struct Presigner {
    signer: Arc<dyn Signer>,
    prefix: Key,
}

impl Presigner {
    /// Presigns with `signer` for keys under `prefix` (the store's prefix,
    /// which the signer does not add itself).
    pub fn new(signer: Arc<dyn Signer>, prefix: Key) -> Self {
        Self { signer, prefix }
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// An object store error as an I/O error (what the callers handle).
fn io(error: object_store::Error) -> std::io::Error {
    match error {
        object_store::Error::NotFound { .. } => {
            std::io::Error::new(std::io::ErrorKind::NotFound, error.to_string())
        }
        other => std::io::Error::other(other.to_string()),
    }
}

/// Whether a file name is a directory store's staged upload (`<name>#<n>`,
/// the part of an upload that never completed).
fn is_staged(file_name: &str) -> bool {
    file_name
        .rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl FileStore {
    /// A store over `store` (any `object_store` implementation), described
    /// as `description` in logs. `local_root` is the directory when the
    /// store is a `LocalFileSystem` rooted there.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        local_root: Option<PathBuf>,
        description: String,
        part_size: usize,
    ) -> Self {
        Self {
            store,
            local_root,
            description,
            part_size,
            presigner: None,
        }
    }

    /// The store with presigned download URLs (an S3 store).
    pub fn with_presigner(mut self, presigner: Presigner) -> Self {
        self.presigner = Some(presigner);
        self
    }

    /// Whether [`FileStore::presigned_download`] can make URLs.
    pub fn can_presign(&self) -> bool {
        self.presigner.is_some()
    }

    /// A URL from which the recorded file's stored (gzip) bytes can be
    /// fetched without credentials until `lifetime` has passed: a presigned
    /// S3 GET. `None` when the store cannot presign.
    pub async fn presigned_download(
        &self,
        job_id: i64,
        name: &str,
        lifetime: std::time::Duration,
    ) -> std::io::Result<Option<String>> {
        let Some(presigner) = &self.presigner else {
            return Ok(None);
        };
        let key = Key::from_iter(
            presigner
                .prefix
                .parts()
                .chain(Self::key(job_id, name).parts()),
        );
        let url = presigner
            .signer
            .signed_url(Method::GET, &key, lifetime)
            .await
            .map_err(io)?;
        Ok(Some(url.to_string()))
    }

    /// Where the files are (`s3://bucket/prefix` or a directory), for
    /// messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The directory of a directory store; `None` for an object store.
    pub fn local_root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    /// The underlying object store (e.g. for presigned URLs).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The key of a recorded file's gzip bytes.
    pub fn key(job_id: i64, name: &str) -> Key {
        Key::from_iter([EXPORTS, &job_id.to_string(), &format!("{name}.gz")])
    }

    fn job_prefix(top: &str, job_id: i64) -> Key {
        Key::from_iter([top, &job_id.to_string()])
    }

    /// A directory store's directory of a job's downloadable files.
    pub fn job_dir(&self, job_id: i64) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        Some(root.join(EXPORTS).join(job_id.to_string()))
    }

    /// A directory store's directory of a job's archived files.
    pub fn archive_dir(&self, job_id: i64) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        Some(root.join(ARCHIVE).join(job_id.to_string()))
    }

    /// Where a directory store keeps a recorded file's gzip bytes.
    pub fn path(&self, job_id: i64, name: &str) -> Option<PathBuf> {
        Some(self.job_dir(job_id)?.join(format!("{name}.gz")))
    }

    /// Starts writing the file `name` of a job: its bytes go to the store
    /// as they are written, and appear under the file's key only when the
    /// writer finishes ([`UploadWriter::finish`]). Call from async code;
    /// the writer itself is used on a blocking thread.
    pub async fn create(&self, job_id: i64, name: &str) -> std::io::Result<UploadWriter> {
        if let Some(dir) = self.job_dir(job_id) {
            // Owner-only, before the store makes it with the umask's modes.
            create_private_dir(dir).await?;
        }
        let key = Self::key(job_id, name);
        let mut options = PutMultipartOptions::default();
        if self.presigner.is_some() {
            // Served as they are when a download is redirected to the
            // store: the API's gzip representation's headers.
            options.attributes = Attributes::from_iter([
                (Attribute::ContentType, "application/fhir+ndjson".to_owned()),
                (Attribute::ContentEncoding, "gzip".to_owned()),
                (Attribute::CacheControl, "private, no-store".to_owned()),
                (
                    Attribute::ContentDisposition,
                    format!("attachment; filename=\"{name}\""),
                ),
            ]);
        }
        let upload = self
            .store
            .put_multipart_opts(&key, options)
            .await
            .map_err(io)?;
        Ok(UploadWriter::new(
            upload,
            self.part_size,
            Handle::current(),
            self.path(job_id, name),
        ))
    }

    /// The size of a recorded file; `None` if it is not there.
    pub async fn size(&self, job_id: i64, name: &str) -> std::io::Result<Option<u64>> {
        match self.store.head(&Self::key(job_id, name)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Opens a recorded file for reading `range` of its bytes (all of them
    /// when `None`); `None` if it is not there. An object store is asked
    /// for the range only (a ranged GET), so a resumed download does not
    /// fetch what the client has.
    pub async fn open(
        &self,
        job_id: i64,
        name: &str,
        range: Option<Range<u64>>,
    ) -> std::io::Result<Option<StoredObject>> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&Self::key(job_id, name), options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let size = result.meta.size;
        let start = result.range.start;
        let body = match result.payload {
            GetResultPayload::File(file, _) => StoredBody::File { file, start },
            GetResultPayload::Stream(stream) => StoredBody::Stream(stream),
        };
        Ok(Some(StoredObject { size, body }))
    }

    /// The names of the files under a job's prefix (`<name>.gz`), and in a
    /// directory store its staged uploads too.
    async fn names(&self, top: &str, job_id: i64) -> std::io::Result<Vec<String>> {
        let prefix = Self::job_prefix(top, job_id);
        let mut listed = self.store.list(Some(&prefix));
        let mut names = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(io)?;
            if let Some(name) = meta.location.filename() {
                names.push(name.to_owned());
            }
        }
        if let Some(root) = &self.local_root {
            let dir = root.join(top).join(job_id.to_string());
            let staged = tokio::task::spawn_blocking(move || staged_files(&dir))
                .await
                .map_err(std::io::Error::other)??;
            names.extend(staged);
        }
        Ok(names)
    }

    /// Removes the files of a job's downloadable files (and staged uploads)
    /// for which `doomed` (given the file name) is true; returns how many
    /// were removed.
    pub async fn remove_matching(
        &self,
        job_id: i64,
        doomed: impl Fn(&str) -> bool + Send + 'static,
    ) -> std::io::Result<usize> {
        let mut removed = 0;
        for name in self.names(EXPORTS, job_id).await? {
            if !doomed(&name) {
                continue;
            }
            if is_staged(&name) {
                if let Some(dir) = self.job_dir(job_id) {
                    match tokio::fs::remove_file(dir.join(&name)).await {
                        Ok(()) => removed += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let key = Self::job_prefix(EXPORTS, job_id).join(name.as_str());
            match self.store.delete(&key).await {
                Ok(()) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(removed)
    }

    /// Removes one finished file (`name` as recorded), if it exists.
    pub async fn remove(&self, job_id: i64, name: &str) -> std::io::Result<()> {
        already_gone_is_done(self.store.delete(&Self::key(job_id, name)).await)
    }

    /// The ids of the jobs that have files in the store, downloadable or
    /// archived (for the sweep that removes what no job should have).
    pub async fn job_ids(&self) -> std::io::Result<Vec<i64>> {
        let mut ids = Vec::new();
        for top in [EXPORTS, ARCHIVE] {
            let listed = self
                .store
                .list_with_delimiter(Some(&Key::from(top)))
                .await
                .map_err(io)?;
            ids.extend(
                listed
                    .common_prefixes
                    .iter()
                    .filter_map(|p| p.filename()?.parse::<i64>().ok()),
            );
            if let Some(root) = &self.local_root {
                // A job directory holding only staged uploads lists no
                // object, so the store does not show it.
                let dir = root.join(top);
                let on_disk = tokio::task::spawn_blocking(move || numbered_dirs(&dir))
                    .await
                    .map_err(std::io::Error::other)??;
                ids.extend(on_disk);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Whether a file name is a finished file's (`<name>.gz`), and the
    /// recorded name if so.
    pub fn recorded_name(file_name: &str) -> Option<&str> {
        file_name
            .strip_suffix(".gz")
            .filter(|n| !n.starts_with('.') && !n.contains('#'))
    }

    /// Moves a job's files to the archive (no longer downloadable). A
    /// directory is renamed at once; an object store renames each file.
    pub async fn archive(&self, job_id: i64) -> std::io::Result<()> {
        if let (Some(from), Some(to)) = (self.job_dir(job_id), self.archive_dir(job_id)) {
            if !tokio::fs::try_exists(&from).await? {
                return Ok(());
            }
            let parent = to.parent().map(Path::to_owned);
            if let Some(parent) = parent {
                create_private_dir(parent).await?;
            }
            return tokio::fs::rename(from, to).await;
        }
        for name in self.names(EXPORTS, job_id).await? {
            let from = Self::job_prefix(EXPORTS, job_id).join(name.as_str());
            let to = Self::job_prefix(ARCHIVE, job_id).join(name.as_str());
            already_gone_is_done(self.store.rename(&from, &to).await)?;
        }
        Ok(())
    }

    /// Deletes a job's files, downloadable and archived (and a directory
    /// store's staged uploads and directories).
    pub async fn delete(&self, job_id: i64) -> std::io::Result<()> {
        if let (Some(exports), Some(archive)) = (self.job_dir(job_id), self.archive_dir(job_id)) {
            for dir in [exports, archive] {
                match tokio::fs::remove_dir_all(&dir).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        for top in [EXPORTS, ARCHIVE] {
            for name in self.names(top, job_id).await? {
                let key = Self::job_prefix(top, job_id).join(name.as_str());
                already_gone_is_done(self.store.delete(&key).await)?;
            }
        }
        Ok(())
    }

    /// Writes, reads back and removes a small object: whether the store
    /// works (`/_health`).
    pub async fn probe(&self) -> std::io::Result<()> {
        let key = Key::from_iter([".health", &format!("{}", uuid::Uuid::new_v4().simple())]);
        if let Some(root) = &self.local_root {
            let dir = root.join(".health");
            create_private_dir(dir).await?;
        }
        let written = match self.store.put(&key, Bytes::from_static(b"ok").into()).await {
            Ok(_) => match self.store.get(&key).await {
                Ok(got) => got.bytes().await.map(|read| read.as_ref() == b"ok"),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        // Removed whatever happened: a write that failed half-way may still
        // have left the object.
        let removed = self.store.delete(&key).await;
        if !written.map_err(io)? {
            return Err(std::io::Error::other(
                "the store returned other bytes than written",
            ));
        }
        already_gone_is_done(removed)
    }
}

/// Makes an owner-only directory (and its parents) off the async workers.
async fn create_private_dir(dir: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || private::create_dir_all(&dir))
        .await
        .map_err(std::io::Error::other)?
}

/// A delete or move whose object is already gone has nothing left to do.
fn already_gone_is_done(result: object_store::Result<()>) -> std::io::Result<()> {
    match result {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// The UTF-8 names in a directory (none if it does not exist).
fn entry_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// The staged uploads in a directory (none if it does not exist).
fn staged_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = entry_names(dir)?;
    names.retain(|name| is_staged(name));
    Ok(names)
}

/// The numeric names in `dir`: its job directories (none if it does not
/// exist).
fn numbered_dirs(dir: &Path) -> std::io::Result<Vec<i64>> {
    Ok(entry_names(dir)?
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_files_and_staged_uploads() {
        assert_eq!(FileStore::recorded_name("a.ndjson.gz"), Some("a.ndjson"));
        assert_eq!(FileStore::recorded_name("a.ndjson.gz#1"), None);
        assert_eq!(FileStore::recorded_name(".x.tmp"), None);
        assert!(is_staged("a.ndjson.gz#12"));
        assert!(!is_staged("a.ndjson.gz"));
        assert!(!is_staged("a.ndjson.gz#"));
        assert!(!is_staged("a#b"));
        assert_eq!(
            FileStore::key(7, "a.ndjson").as_ref(),
            "exports/7/a.ndjson.gz"
        );
    }
}
