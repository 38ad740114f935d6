//! The output file store: where export files live on disk.
//!
//! Layout under the data directory: `exports/<job id>/<name>.gz` while a
//! job's files may be downloaded, `archive/<job id>/<name>.gz` after they
//! expire, nothing once deleted. `<name>` is always a name the server
//! generated and recorded in `job_files`; request paths are never joined to
//! a path here. Every directory and file is owner-only ([`private`]).

pub mod private;

use std::path::{Path, PathBuf};

/// The name of a temporary file: `.<task>-<fence>.<name>.tmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TempName {
    /// The task writing it.
    pub task_id: i64,
    /// The attempt (the task's fence when it was claimed).
    pub fence: i64,
}

impl TempName {
    /// The file name for the final name `name`.
    pub fn file_name(self, name: &str) -> String {
        format!(".{}-{}.{name}.tmp", self.task_id, self.fence)
    }

    /// The task and attempt of a temporary file's name; `None` for any
    /// other name.
    pub fn parse(file_name: &str) -> Option<Self> {
        let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
        let (attempt, _) = inner.split_once('.')?;
        let (task, fence) = attempt.split_once('-')?;
        Some(Self {
            task_id: task.parse().ok()?,
            fence: fence.parse().ok()?,
        })
    }
}

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
    /// task `task_id`; it becomes [`FileStore::path`] only when whole. The
    /// task and fence in the name let a retry, or a sweep, tell a dead
    /// attempt's leftovers from a live attempt's work ([`TempName`]).
    pub fn temp_path(&self, job_id: i64, task_id: i64, fence: i64, name: &str) -> PathBuf {
        self.job_dir(job_id)
            .join(TempName { task_id, fence }.file_name(name))
    }

    /// Removes the temporary files of `task_id`'s attempts other than
    /// `fence` (the attempt that holds the task now): what an attempt that
    /// died left behind. Returns how many were removed.
    pub async fn remove_other_attempts(
        &self,
        job_id: i64,
        task_id: i64,
        fence: i64,
    ) -> std::io::Result<usize> {
        self.remove_matching(job_id, move |name| {
            TempName::parse(name).is_some_and(|t| t.task_id == task_id && t.fence != fence)
        })
        .await
    }

    /// Removes the files of a job's download directory for which `doomed`
    /// (given the file name) is true; returns how many were removed.
    pub async fn remove_matching(
        &self,
        job_id: i64,
        doomed: impl Fn(&str) -> bool + Send + 'static,
    ) -> std::io::Result<usize> {
        let dir = self.job_dir(job_id);
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut removed = 0;
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                if name.to_str().is_some_and(&doomed) {
                    match std::fs::remove_file(entry.path()) {
                        Ok(()) => removed += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(removed)
        })
        .await?
    }

    /// Removes one finished file (`name` as recorded), if it exists.
    pub async fn remove(&self, job_id: i64, name: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(job_id, name)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The ids of the jobs that have a directory on disk, downloadable or
    /// archived (for the sweep that removes what no job should have).
    pub async fn job_ids_on_disk(&self) -> std::io::Result<Vec<i64>> {
        let roots = [self.root.join("exports"), self.root.join("archive")];
        tokio::task::spawn_blocking(move || {
            let mut ids = Vec::new();
            for root in roots {
                let entries = match std::fs::read_dir(&root) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    if let Some(id) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
                        ids.push(id);
                    }
                }
            }
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        })
        .await?
    }

    /// The directory of a job's archived files.
    pub fn archive_dir(&self, job_id: i64) -> PathBuf {
        self.root.join("archive").join(job_id.to_string())
    }

    /// Whether a file name is a finished file's (`<name>.gz`), and the
    /// recorded name if so.
    pub fn recorded_name(file_name: &str) -> Option<&str> {
        file_name
            .strip_suffix(".gz")
            .filter(|n| !n.starts_with('.'))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_task_and_attempt() {
        let t = TempName {
            task_id: 12,
            fence: 3,
        };
        let name = t.file_name("0f8f-error.ndjson");
        assert_eq!(name, ".12-3.0f8f-error.ndjson.tmp");
        assert_eq!(TempName::parse(&name), Some(t));
        for other in [
            "0f8f.ndjson.gz",
            ".x-3.a.tmp",
            ".12.a.tmp",
            "12-3.a.tmp",
            ".12-3.a",
        ] {
            assert_eq!(TempName::parse(other), None, "{other}");
        }
        assert_eq!(FileStore::recorded_name("a.ndjson.gz"), Some("a.ndjson"));
        assert_eq!(FileStore::recorded_name(&name), None);
    }
}
