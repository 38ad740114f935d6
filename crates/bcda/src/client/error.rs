//! What can go wrong in a client run, each with the exit code cron jobs and
//! scripts see (documented in docs/CLIENT.md).

use std::io;
use std::path::Path;

/// A failed client run. Every message says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad options or a directory that holds something else (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The credentials were refused (exit 3).
    #[error("{0}")]
    Credentials(String),
    /// The server refused the request: deny-listed ACO, no attribution yet,
    /// a parameter it does not accept (exit 4).
    #[error("{0}")]
    Refused(String),
    /// The job failed, was cancelled or expired on the server (exit 5).
    #[error("{0}")]
    Job(String),
    /// A file did not match the manifest twice (exit 6).
    #[error("{0}")]
    Verification(String),
    /// The server could not be reached or kept failing (exit 7; resumable).
    #[error("{0}")]
    Network(String),
    /// Writing the files failed, e.g. the disk is full (exit 8; resumable).
    #[error("{0}")]
    Disk(String),
    /// Ctrl-C (exit 130; resumable).
    #[error("{0}")]
    Interrupted(String),
}

impl ClientError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => 2,
            ClientError::Credentials(_) => 3,
            ClientError::Refused(_) => 4,
            ClientError::Job(_) => 5,
            ClientError::Verification(_) => 6,
            ClientError::Network(_) => 7,
            ClientError::Disk(_) => 8,
            ClientError::Interrupted(_) => 130,
        }
    }

    /// A local file operation on `path` failed: a disk-full error says so
    /// and how to go on.
    pub fn disk(what: &str, path: &Path, error: &io::Error, dir: &Path) -> ClientError {
        let resume = format!("then run `bcda client resume {}`", dir.display());
        if error.kind() == io::ErrorKind::StorageFull
            || error.kind() == io::ErrorKind::QuotaExceeded
        {
            ClientError::Disk(format!(
                "the disk is full ({what} {}): free some space, {resume}",
                path.display()
            ))
        } else {
            ClientError::Disk(format!(
                "cannot {what} {}: {error}; fix that, {resume}",
                path.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_says_so_and_how_to_go_on() {
        let dir = Path::new("/data/a9994");
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let err = ClientError::disk("write", &dir.join("x.ndjson.part"), &full, dir);
        assert_eq!(err.exit_code(), 8);
        assert_eq!(
            err.to_string(),
            "the disk is full (write /data/a9994/x.ndjson.part): free some space, then run \
             `bcda client resume /data/a9994`"
        );
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let err = ClientError::disk("create", dir, &denied, dir);
        assert!(
            err.to_string()
                .starts_with("cannot create /data/a9994: permission denied"),
            "{err}"
        );
    }
}
