//! One export through the HTTP API, as a bulk-data client runs it: token,
//! kick-off, status polls until the manifest, then every file downloaded
//! with `Accept-Encoding: gzip`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine;

use super::client::Client;
use crate::auth::credentials::NewCredentials;
use crate::domain::ResourceType;

/// How often the status route is polled. Much shorter than the server's
/// `Retry-After`, so the time to manifest is not rounded up by the client.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// One file of the manifest.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// Resource type.
    pub resource_type: String,
    /// The path of its URL (`/data/...`).
    pub path: String,
    /// Resources in it.
    pub count: u64,
    /// Its uncompressed NDJSON bytes.
    pub ndjson_bytes: u64,
}

/// What the export phase measured.
#[derive(Debug, Clone)]
pub struct ExportRun {
    /// The job's id.
    pub job_id: i64,
    /// OperationOutcome files in the manifest's `error` list.
    pub error_files: usize,
    /// Kick-off request latency.
    pub kickoff: Duration,
    /// From sending the kick-off to the status route's 200.
    pub to_manifest: Duration,
    /// The manifest's files.
    pub files: Vec<ManifestFile>,
}

/// Gets a token with the client credentials.
pub async fn token(client: &Client, credentials: &NewCredentials) -> anyhow::Result<String> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        credentials.client_id, credentials.client_secret
    ));
    let (head, body) = client
        .send(
            "POST",
            "/auth/token",
            &[
                ("Authorization", &format!("Basic {basic}")),
                ("Accept", "application/json"),
            ],
        )
        .await?;
    if head.status != 200 {
        bail!(
            "POST /auth/token answered {}: {}",
            head.status,
            String::from_utf8_lossy(&body)
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    json["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the token answer has no access_token")
}

/// Kicks off a v2 `Patient/$export` of `types` (none: no `_type`, the
/// ACO's default types) and polls until the manifest.
pub async fn run(
    client: &Client,
    token: &str,
    types: &[ResourceType],
) -> anyhow::Result<ExportRun> {
    let bearer = format!("Bearer {token}");
    let kickoff_path = kickoff_path(types);
    let started = Instant::now();
    let (head, body) = client
        .send(
            "GET",
            &kickoff_path,
            &[
                ("Authorization", &bearer),
                ("Accept", "application/fhir+json"),
                ("Prefer", "respond-async"),
            ],
        )
        .await?;
    let kickoff = started.elapsed();
    if head.status != 202 {
        bail!(
            "kick-off answered {}: {}",
            head.status,
            String::from_utf8_lossy(&body)
        );
    }
    let status_path = path_of(
        head.header("content-location")
            .context("kick-off answer has no Content-Location")?,
    );
    let job_id: i64 = status_path
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("no job id in {status_path}"))?;
    eprintln!("bench: job {job_id} kicked off in {kickoff:.1?}; polling {status_path}");
    let manifest = loop {
        let (head, body) = client
            .send("GET", &status_path, &[("Authorization", &bearer)])
            .await?;
        match head.status {
            200 => break serde_json::from_slice::<serde_json::Value>(&body)?,
            202 => tokio::time::sleep(POLL_INTERVAL).await,
            other => bail!(
                "status answered {other}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    };
    let to_manifest = started.elapsed();
    // Error files are part of a normal export (BCDA reports beneficiaries
    // without data as OperationOutcomes); they are counted, not failed on.
    let error_files = manifest["error"].as_array().map_or(0, Vec::len);
    let files = manifest["output"]
        .as_array()
        .context("manifest has no output")?
        .iter()
        .map(manifest_file)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ExportRun {
        job_id,
        error_files,
        kickoff,
        to_manifest,
        files,
    })
}

/// The kick-off's path: `_type` lists `types` (names need no escaping).
fn kickoff_path(types: &[ResourceType]) -> String {
    let mut path = "/api/v2/Patient/$export".to_owned();
    if !types.is_empty() {
        let names: Vec<_> = types.iter().map(|t| t.as_str()).collect();
        path.push_str("?_type=");
        path.push_str(&names.join(","));
    }
    path
}

/// One manifest entry: its URL's path, count and the NDJSON length
/// extension.
fn manifest_file(entry: &serde_json::Value) -> anyhow::Result<ManifestFile> {
    let url = entry["url"]
        .as_str()
        .context("manifest entry without url")?;
    let ndjson_bytes = entry["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|e| e["valueDecimal"].as_u64())
        .context("manifest entry without its byte length")?;
    Ok(ManifestFile {
        resource_type: entry["type"].as_str().unwrap_or_default().to_owned(),
        path: path_of(url),
        count: entry["count"]
            .as_u64()
            .context("manifest entry without count")?,
        ndjson_bytes,
    })
}

/// The path of an absolute URL.
fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned()),
        None => url.to_owned(),
    }
}

/// Downloads every file with `Accept-Encoding: gzip`, counting and
/// discarding the bytes. Returns the bytes transferred (bodies only).
pub async fn download_all(
    client: &Client,
    token: &str,
    files: &[ManifestFile],
) -> anyhow::Result<u64> {
    let bearer = format!("Bearer {token}");
    let mut total = 0u64;
    for file in files {
        let mut bytes = 0u64;
        let head = client
            .stream(
                "GET",
                &file.path,
                &[("Authorization", &bearer), ("Accept-Encoding", "gzip")],
                |chunk| {
                    bytes += chunk.len() as u64;
                    Ok(())
                },
            )
            .await?;
        if head.status != 200 || head.header("content-encoding") != Some("gzip") {
            bail!(
                "GET {} answered {} ({:?})",
                file.path,
                head.status,
                head.header("content-encoding")
            );
        }
        total += bytes;
    }
    Ok(total)
}

/// Downloads `file` again, inflating it as it arrives, and checks its
/// lines and bytes against the manifest.
pub async fn check(client: &Client, token: &str, file: &ManifestFile) -> anyhow::Result<()> {
    let bearer = format!("Bearer {token}");
    let mut inflater = flate2::write::GzDecoder::new(LineCounter::default());
    client
        .stream(
            "GET",
            &file.path,
            &[("Authorization", &bearer), ("Accept-Encoding", "gzip")],
            |chunk| inflater.write_all(chunk),
        )
        .await?;
    let counted = inflater.finish()?;
    if counted.lines != file.count || counted.bytes != file.ndjson_bytes {
        bail!(
            "{}: {} lines and {} bytes inflated, the manifest says {} and {}",
            file.path,
            counted.lines,
            counted.bytes,
            file.count,
            file.ndjson_bytes
        );
    }
    Ok(())
}

/// Counts bytes and newlines written to it.
#[derive(Debug, Default)]
struct LineCounter {
    lines: u64,
    bytes: u64,
}

impl Write for LineCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_urls() {
        assert_eq!(
            path_of("http://127.0.0.1:1/data/1/a.ndjson"),
            "/data/1/a.ndjson"
        );
        assert_eq!(path_of("/api/v2/jobs/3"), "/api/v2/jobs/3");
        assert_eq!(path_of("http://h"), "/");
    }

    #[test]
    fn kickoff_paths() {
        assert_eq!(kickoff_path(&[]), "/api/v2/Patient/$export");
        assert_eq!(
            kickoff_path(&[ResourceType::Claim, ResourceType::Patient]),
            "/api/v2/Patient/$export?_type=Claim,Patient"
        );
    }
}
