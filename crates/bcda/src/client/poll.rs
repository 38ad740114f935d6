//! Following a job until it ends, honouring `Retry-After`, with a live
//! progress line (`X-Progress`, elapsed time).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::ClientError;
use super::manifest::Manifest;
use super::progress::Reporter;
use super::session::{Auth, Session, describe, retry_after, server_message};

/// How a job ended, as its status URL answered.
#[derive(Debug)]
pub enum JobEnd {
    /// 200: the manifest, parsed and as received.
    Completed {
        /// The manifest.
        manifest: Manifest,
        /// Its JSON as the server sent it.
        raw: Vec<u8>,
    },
    /// Any other final answer: status and the server's message.
    Ended {
        /// The HTTP status.
        status: StatusCode,
        /// What the server said.
        message: String,
    },
}

/// The number at the end of a job URL, for messages.
pub fn job_label(job_url: &str) -> &str {
    job_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(job_url)
}

/// Polls `job_url` until the job is no longer pending or running.
pub async fn wait(
    session: &Session,
    job_url: &str,
    reporter: &Reporter,
) -> Result<JobEnd, ClientError> {
    let label = job_label(job_url).to_owned();
    let spinner = reporter.spinner();
    let started = Instant::now();
    let max = session.settings().timing.max_poll_interval;
    let what = format!("checking job {label}");
    let mut failures = 0;
    let mut polls = 0;
    let end = loop {
        let response = session
            .send(&what, Auth::Bearer, |http| {
                http.get(job_url).header("Accept", "application/json")
            })
            .await?;
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            let progress = response
                .headers()
                .get("X-Progress")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("In Progress")
                .to_owned();
            reporter.polling(&spinner, &label, &progress, started);
            polls += 1;
            let wait = retry_after(response.headers())
                .unwrap_or_else(|| unadvised_wait(polls))
                .min(max);
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
            continue;
        }
        if status == StatusCode::OK {
            let raw = match response.bytes().await {
                Ok(raw) => raw.to_vec(),
                Err(e) => {
                    session
                        .backoff(&mut failures, &what, &describe(&e), None)
                        .await?;
                    continue;
                }
            };
            let manifest: Manifest = serde_json::from_slice(&raw).map_err(|e| {
                ClientError::Job(format!(
                    "job {label} completed but its manifest is not Bulk Data JSON ({e})"
                ))
            })?;
            break JobEnd::Completed { manifest, raw };
        }
        let message = server_message(response).await;
        break JobEnd::Ended { status, message };
    };
    spinner.finish_and_clear();
    Ok(end)
}

/// The wait before the `n`th next poll (from 1) when the server sends no
/// `Retry-After` (BCDA does not): 2 s, growing by half each time, so a small
/// job is seen done soon and a long one is not asked about every 2 s for
/// hours (capped by the caller at the maximum poll interval).
pub fn unadvised_wait(n: u32) -> Duration {
    let seconds = 2.0 * 1.5f64.powi(n.saturating_sub(1).min(20) as i32);
    Duration::from_secs_f64(seconds.min(3_600.0))
}

/// The error for a job that ended without a manifest.
pub fn ended_error(job_url: &str, status: StatusCode, message: &str) -> ClientError {
    let label = job_label(job_url);
    match status {
        StatusCode::NOT_FOUND if message.to_ascii_lowercase().contains("cancel") => {
            ClientError::Job(format!(
                "job {label} was cancelled ({status}: {message}); start a new export"
            ))
        }
        StatusCode::GONE => ClientError::Job(format!(
            "job {label} has expired on the server ({status}: {message}); files are kept for \
             24 hours after a job completes: start a new export"
        )),
        StatusCode::INTERNAL_SERVER_ERROR => ClientError::Job(format!(
            "job {label} failed on the server ({status}: {message}); start a new export, and if \
             it fails again contact the server's operators"
        )),
        StatusCode::UNAUTHORIZED => ClientError::Credentials(format!(
            "the server refused to show job {label} ({status}: {message}); it may belong to \
             other credentials' ACO"
        )),
        StatusCode::FORBIDDEN => ClientError::Refused(format!(
            "the server refused to show job {label} ({status}: {message})"
        )),
        _ => ClientError::Job(format!(
            "job {label} cannot be followed ({status}: {message}); start a new export"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_retry_after_polls_start_soon_and_slow_down() {
        let waits: Vec<f64> = (1..=6).map(|n| unadvised_wait(n).as_secs_f64()).collect();
        assert_eq!(waits, [2.0, 3.0, 4.5, 6.75, 10.125, 15.1875]);
        assert_eq!(
            unadvised_wait(1_000),
            Duration::from_secs_f64(2.0 * 1.5f64.powi(20)).min(Duration::from_secs(3_600))
        );
        assert_eq!(job_label("http://h/api/v2/jobs/42"), "42");
    }
}
