//! Where export files are stored (`--store`): the data directory, another
//! directory, or an S3 bucket and prefix (`s3://bucket/prefix`), with the
//! S3 settings (region, credentials, endpoint) taken from the environment
//! as every AWS tool takes them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;

use super::{FileStore, Presigner, private};

/// Bytes per uploaded part in a directory: any size works there, and a
/// small part keeps each export task's memory small.
const DIRECTORY_PART_BYTES: usize = 1024 * 1024;

/// Bytes per uploaded part in S3 (at least 5 MiB but for the last; at most
/// 10,000 parts, so files up to 80 GB).
const S3_PART_BYTES: usize = 8 * 1024 * 1024;

/// Where the export files are.
#[derive(Debug, Clone, Default)]
pub enum StoreLocation {
    /// Under the data directory (the default).
    #[default]
    DataDir,
    /// Under this directory.
    Directory(PathBuf),
    /// In an S3 (or S3-compatible) bucket, under a key prefix.
    S3 {
        /// The bucket's name.
        bucket: String,
        /// The key prefix (no leading or trailing `/`; may be empty).
        prefix: String,
    },
    /// A store made by the caller (tests, embedders).
    Given(FileStore),
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// The directory could not be created or made private.
    #[error("file store directory {path}: {message}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The S3 settings are incomplete or invalid.
    #[error("file store {url}: {message}")]
    S3 {
        /// `s3://bucket/prefix`.
        url: String,
        /// What the S3 client reported.
        message: String,
    },
}

/// Parses a `--store` value: `s3://bucket[/prefix]`, or a directory.
pub fn parse_store(value: &str) -> Result<StoreLocation, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("expected a directory or s3://bucket/prefix".to_owned());
    }
    if let Some(rest) = value.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(format!(
                "{bucket:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|part| part.is_empty() && !prefix.is_empty())
            || prefix.contains(['\\', '#', '?'])
        {
            return Err(format!(
                "{prefix:?} is not a key prefix (parts separated by single slashes, no #, ? or \\)"
            ));
        }
        return Ok(StoreLocation::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        });
    }
    if let Some((scheme, _)) = value.split_once("://") {
        return Err(format!(
            "{scheme}:// stores are not supported: give a directory or s3://bucket/prefix"
        ));
    }
    Ok(StoreLocation::Directory(PathBuf::from(value)))
}

fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl StoreLocation {
    /// Opens the store; `data_dir` is the data directory (which exists).
    pub fn open(&self, data_dir: &Path) -> Result<FileStore, StoreOpenError> {
        match self {
            Self::DataDir => open_directory(data_dir),
            Self::Directory(dir) => open_directory(dir),
            Self::S3 { bucket, prefix } => open_s3(bucket, prefix),
            Self::Given(store) => Ok(store.clone()),
        }
    }
}

fn open_directory(dir: &Path) -> Result<FileStore, StoreOpenError> {
    let fail = |message: String| StoreOpenError::Directory {
        path: dir.to_owned(),
        message,
    };
    if let Some(old) = private::secure_dir(dir).map_err(|e| fail(e.to_string()))? {
        tracing::warn!(
            store = %dir.display(),
            old_mode = format!("{old:o}"),
            "the file store directory was readable by other users; its mode is now 700"
        );
    }
    // fsync: a file recorded in a manifest must survive a crash, as an
    // object store's does.
    let store = LocalFileSystem::new_with_prefix(dir)
        .map_err(|e| fail(e.to_string()))?
        .with_fsync(true)
        .with_automatic_cleanup(true);
    Ok(FileStore::new(
        Arc::new(store),
        Some(dir.to_owned()),
        dir.display().to_string(),
        DIRECTORY_PART_BYTES,
    ))
}

fn open_s3(bucket: &str, prefix: &str) -> Result<FileStore, StoreOpenError> {
    s3_store(AmazonS3Builder::from_env(), bucket, prefix)
}

/// An S3 store of `bucket` under `prefix`, with the client `builder`
/// describes (from the environment for `--store`; tests give theirs).
pub fn s3_store(
    builder: AmazonS3Builder,
    bucket: &str,
    prefix: &str,
) -> Result<FileStore, StoreOpenError> {
    let url = if prefix.is_empty() {
        format!("s3://{bucket}")
    } else {
        format!("s3://{bucket}/{prefix}")
    };
    let s3: AmazonS3 =
        builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| StoreOpenError::S3 {
                url: url.clone(),
                message: e.to_string(),
            })?;
    let presigner = Presigner::new(Arc::new(s3.clone()), Key::from(prefix));
    let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(PrefixStore::new(s3, prefix))
    };
    Ok(FileStore::new(store, None, url, S3_PART_BYTES).with_presigner(presigner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_values() {
        assert!(matches!(
            parse_store("s3://bcda-exports/prod/files/"),
            Ok(StoreLocation::S3 { ref bucket, ref prefix }) if bucket == "bcda-exports" && prefix == "prod/files"
        ));
        assert!(matches!(
            parse_store("s3://bcda-exports"),
            Ok(StoreLocation::S3 { ref prefix, .. }) if prefix.is_empty()
        ));
        assert!(matches!(
            parse_store("/var/lib/bcda/files"),
            Ok(StoreLocation::Directory(_))
        ));
        for bad in [
            "",
            "s3://",
            "s3://Bucket",
            "s3://ab",
            "s3://-x-bucket",
            "s3://b_x",
            "s3://bucket/a//b",
            "s3://bucket/a#1",
            "gs://bucket/x",
        ] {
            assert!(parse_store(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_store("gs://b/x").err().as_deref(),
            Some("gs:// stores are not supported: give a directory or s3://bucket/prefix")
        );
    }
}
