//! The output file store: where export files live on disk.
//!
//! Layout under the data directory: `exports/<job id>/<name>.gz` while a
//! job's files may be downloaded, `archive/<job id>/<name>.gz` after they
//! expire, nothing once deleted. `<name>` is always a name the server
//! generated and recorded in `job_files`; request paths are never joined to
//! a path here. Every directory and file is owner-only ([`private`]).

pub mod private;

use std::path::{Path, PathBuf};

/// The file store of one data directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// The store under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.to_owned(),
        }
    }

    /// The directory of a job's downloadable files.
    pub fn job_dir(&self, job_id: i64) -> PathBuf {
        self.root.join("exports").join(job_id.to_string())
    }

    /// Where a recorded file's gzip bytes are stored.
    pub fn path(&self, job_id: i64, name: &str) -> PathBuf {
        self.job_dir(job_id).join(format!("{name}.gz"))
    }

    /// A temporary path for a file being written by the attempt `fence` of
    /// a task; it becomes [`FileStore::path`] only when whole.
    pub fn temp_path(&self, job_id: i64, name: &str, fence: i64) -> PathBuf {
        self.job_dir(job_id).join(format!(".{name}.{fence}.tmp"))
    }

    /// The directory of a job's archived files.
    pub fn archive_dir(&self, job_id: i64) -> PathBuf {
        self.root.join("archive").join(job_id.to_string())
    }

    /// Moves a job's files to the archive (no longer downloadable).
    pub async fn archive(&self, job_id: i64) -> std::io::Result<()> {
        let from = self.job_dir(job_id);
        if !tokio::fs::try_exists(&from).await? {
            return Ok(());
        }
        let archive = self.root.join("archive");
        tokio::task::spawn_blocking(move || private::create_dir_all(&archive)).await??;
        tokio::fs::rename(from, self.archive_dir(job_id)).await
    }

    /// Deletes a job's files, downloadable and archived.
    pub async fn delete(&self, job_id: i64) -> std::io::Result<()> {
        for dir in [self.job_dir(job_id), self.archive_dir(job_id)] {
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
