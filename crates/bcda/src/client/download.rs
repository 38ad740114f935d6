//! One file of the manifest: downloaded to `<name>.part` with
//! `Accept-Encoding: gzip`, resumed with `Range` + `If-Range` after a broken
//! connection (or a new run), verified against the manifest, and only then
//! given its final name. A file that fails verification is fetched once
//! more from the start; a second failure is reported and its bytes kept
//! aside as `<name>.rejected`.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, ETAG};
use tokio::io::AsyncWriteExt;

use super::ClientError;
use super::progress::{FileProgress, Reporter, count, human_bytes};
use super::session::{Auth, Session, describe, server_message};
use super::state::{Encoding, FileState, PART_SUFFIX};
use super::verify::{self, Facts, Rejection};

/// What a finished download reports back to the run's state.
#[derive(Debug, Clone)]
pub struct Saved {
    /// Where it was saved, relative to the directory.
    pub saved_as: String,
    /// What it held.
    pub facts: Facts,
    /// Bytes on disk.
    pub saved_bytes: u64,
}

/// Where a download stands, recorded in the run's state as it changes (so
/// a new run can resume with `If-Range`).
pub trait Record: Send + Sync {
    /// A response started a new `.part`: its validator and encoding.
    fn started(&self, name: &str, etag: Option<String>, encoding: Encoding);
}

/// Downloads, verifies and saves one file.
pub async fn download(
    session: &Session,
    dir: &Path,
    file: &FileState,
    auth: Auth,
    keep_gzip: bool,
    reporter: &Reporter,
    record: &dyn Record,
) -> Result<Saved, ClientError> {
    let mut file = file.clone();
    let part = file.part_path(dir);
    if let Some(parent) = part.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ClientError::disk("create", parent, &e, dir))?;
    }
    let mut refetched = false;
    loop {
        let progress = reporter.file(&file.name, 0, None);
        let (etag, encoding) = fetch(session, dir, &part, &file, auth, &progress, record).await?;
        drop(progress);
        file.etag = etag;
        file.encoding = Some(encoding);
        let gzip_kept = keep_gzip && encoding == Encoding::Gzip;
        let saved_as = if gzip_kept {
            format!("{}.gz", file.name)
        } else {
            file.name.clone()
        };
        let final_path = dir.join(&saved_as);
        let inflating = (encoding == Encoding::Gzip && !keep_gzip)
            .then(|| dir.join(format!("{}.inflate{PART_SUFFIX}", file.name)));
        let checked = {
            let (part, inflating, expected) =
                (part.clone(), inflating.clone(), file.expected.clone());
            tokio::task::spawn_blocking(move || {
                verify::check(&part, encoding, inflating.as_deref(), &expected)
            })
            .await
            .map_err(|e| ClientError::Disk(format!("verifying {} stopped: {e}", file.name)))?
        };
        match checked {
            Ok(facts) => {
                let from = inflating.as_deref().unwrap_or(&part);
                tokio::fs::rename(from, &final_path)
                    .await
                    .map_err(|e| ClientError::disk("rename to", &final_path, &e, dir))?;
                if inflating.is_some() {
                    let _ = tokio::fs::remove_file(&part).await;
                }
                let saved_bytes = tokio::fs::metadata(&final_path)
                    .await
                    .map(|m| m.len())
                    .unwrap_or_default();
                return Ok(Saved {
                    saved_as,
                    facts,
                    saved_bytes,
                });
            }
            Err(Rejection::Io(e)) => {
                if let Some(inflating) = &inflating {
                    let _ = tokio::fs::remove_file(inflating).await;
                }
                return Err(ClientError::disk("verify", &part, &e, dir));
            }
            Err(Rejection::Mismatch(why)) => {
                if let Some(inflating) = &inflating {
                    let _ = tokio::fs::remove_file(inflating).await;
                }
                if !refetched {
                    reporter.note(&format!(
                        "{}: {why}; downloading it again from the start",
                        file.name
                    ));
                    refetched = true;
                    let _ = tokio::fs::remove_file(&part).await;
                    file.etag = None;
                    continue;
                }
                let rejected = dir.join(format!("{}.rejected", file.name));
                let _ = tokio::fs::rename(&part, &rejected).await;
                return Err(ClientError::Verification(format!(
                    "{} ({}) did not match the manifest twice: {why}. Its bytes are in {}; run \
                     the command again to retry, and if it persists report it to the server's \
                     operators",
                    file.name,
                    file.url,
                    rejected.display()
                )));
            }
        }
    }
}

/// Gets the whole file into `part`, resuming what is there; returns its
/// validator and encoding.
async fn fetch(
    session: &Session,
    dir: &Path,
    part: &PathBuf,
    file: &FileState,
    auth: Auth,
    progress: &FileProgress,
    record: &dyn Record,
) -> Result<(Option<String>, Encoding), ClientError> {
    let mut etag = file.etag.clone();
    let mut encoding = file.encoding;
    let mut failures = 0;
    let what = format!("downloading {}", file.name);
    loop {
        let mut have = match tokio::fs::metadata(part).await {
            Ok(meta) => meta.len(),
            Err(_) => 0,
        };
        // Resuming needs the validator of the bytes already here.
        if have > 0 && (etag.is_none() || encoding.is_none()) {
            truncate(part, dir).await?;
            have = 0;
        }
        let range =
            (have > 0).then(|| (format!("bytes={have}-"), etag.clone().unwrap_or_default()));
        let response = session
            .send(&what, auth, |http| {
                let request = http.get(&file.url).header(ACCEPT_ENCODING, "gzip");
                match &range {
                    Some((range, validator)) => {
                        request.header("Range", range).header("If-Range", validator)
                    }
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let append = match status {
            StatusCode::PARTIAL_CONTENT => {
                let start = content_range_start(&headers);
                if start != Some(have) {
                    // Not the range asked for: start over.
                    truncate(part, dir).await?;
                    etag = None;
                    continue;
                }
                true
            }
            StatusCode::OK => {
                etag = headers
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.starts_with("W/"))
                    .map(str::to_owned);
                let gzip = headers
                    .get(CONTENT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
                let now = if gzip {
                    Encoding::Gzip
                } else {
                    Encoding::Identity
                };
                encoding = Some(now);
                record.started(&file.name, etag.clone(), now);
                false
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                if have > 0 && complete_length(&headers) == Some(have) {
                    // Everything arrived before the connection broke.
                    return Ok((etag, encoding.unwrap_or(Encoding::Gzip)));
                }
                truncate(part, dir).await?;
                etag = None;
                continue;
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                let message = server_message(response).await;
                return Err(ClientError::Job(format!(
                    "the server no longer has {} ({status}: {message}): export files are kept \
                     for 24 hours after the job completes; start a new export",
                    file.name
                )));
            }
            StatusCode::UNAUTHORIZED => {
                let message = server_message(response).await;
                return Err(ClientError::Credentials(format!(
                    "the server refused a fresh token for {} ({status}: {message})",
                    file.name
                )));
            }
            StatusCode::FORBIDDEN => {
                let message = server_message(response).await;
                return Err(ClientError::Refused(format!(
                    "the server refused {} ({status}: {message})",
                    file.name
                )));
            }
            _ => {
                let message = server_message(response).await;
                session
                    .backoff(&mut failures, &what, &format!("{status}: {message}"), None)
                    .await?;
                continue;
            }
        };
        progress.restart(
            if append { have } else { 0 },
            length.map(|l| l + if append { have } else { 0 }),
        );
        match receive(response, part, append, progress, dir).await? {
            Received::Whole => return Ok((etag, encoding.unwrap_or(Encoding::Identity))),
            Received::Broken { error, progressed } => {
                if progressed {
                    failures = 0;
                }
                session.backoff(&mut failures, &what, &error, None).await?;
            }
        }
    }
}

/// How a response body ended.
enum Received {
    /// To the last byte.
    Whole,
    /// The connection broke (what arrived is on disk).
    Broken { error: String, progressed: bool },
}

/// Writes a response body into `part` (appending, or from the start).
async fn receive(
    mut response: reqwest::Response,
    part: &Path,
    append: bool,
    progress: &FileProgress,
    dir: &Path,
) -> Result<Received, ClientError> {
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        // Beneficiaries' data: readable by the owner only.
        .mode(0o600)
        .open(part)
        .await
        .map_err(|e| ClientError::disk("write", part, &e, dir))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 18, file);
    let mut progressed = false;
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                out.write_all(&chunk)
                    .await
                    .map_err(|e| ClientError::disk("write", part, &e, dir))?;
                progress.inc(chunk.len() as u64);
                progressed = true;
            }
            Ok(None) => break Received::Whole,
            Err(e) => {
                break Received::Broken {
                    error: describe(&e),
                    progressed,
                };
            }
        }
    };
    out.flush()
        .await
        .map_err(|e| ClientError::disk("write", part, &e, dir))?;
    out.get_ref()
        .sync_data()
        .await
        .map_err(|e| ClientError::disk("write", part, &e, dir))?;
    Ok(ended)
}

async fn truncate(part: &Path, dir: &Path) -> Result<(), ClientError> {
    match tokio::fs::remove_file(part).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClientError::disk("remove", part, &e, dir)),
    }
}

/// `Content-Range: bytes 100-199/200` → 100.
fn content_range_start(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split(['-', '/']).next()?.trim().parse().ok()
}

/// `Content-Range: bytes */200` → 200.
fn complete_length(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    value.rsplit('/').next()?.trim().parse().ok()
}

/// A line about a saved file: `abc.ndjson (Coverage, 50 resources, 1.0 MB)`.
pub fn saved_line(file: &FileState, saved: &Saved) -> String {
    format!(
        "saved {} ({}, {}, {})",
        saved.saved_as,
        file.resource_type,
        count(saved.facts.count, "resource"),
        human_bytes(saved.saved_bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn content_ranges() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/200"));
        assert_eq!(content_range_start(&headers), Some(100));
        assert_eq!(complete_length(&headers), Some(200));
        headers.insert(CONTENT_RANGE, HeaderValue::from_static("bytes */200"));
        assert_eq!(content_range_start(&headers), None);
        assert_eq!(complete_length(&headers), Some(200));
    }
}
