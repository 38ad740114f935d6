//! Starting an export. BCDA allows one running export per ACO and API
//! version for overlapping types and answers 429 to another: then the
//! client follows the running job when it is the same request, or waits
//! for it to end and asks again, instead of failing.

use reqwest::StatusCode;
use reqwest::header::CONTENT_LOCATION;

use super::ClientError;
use super::poll;
use super::progress::Reporter;
use super::request::ExportRequest;
use super::session::{Auth, Session, retry_after, server_message};

/// How many times a 429 is waited out before giving up.
const MAX_WAITS: u32 = 20;

/// Kicks off `request`; returns the job's status URL.
pub async fn kick_off(
    session: &Session,
    request: &ExportRequest,
    reporter: &Reporter,
) -> Result<String, ClientError> {
    let mut url = session.settings().url(&format!(
        "/api/{}/{}",
        request.api.segment(),
        request.scope.path()
    ));
    let query = request.query();
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(&query);
    }
    let mut waits = 0;
    loop {
        let response = session
            .send("starting the export", Auth::Bearer, |http| {
                http.get(url.clone())
                    .header("Accept", "application/fhir+json")
                    .header("Prefer", "respond-async")
            })
            .await?;
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            let location = response
                .headers()
                .get(CONTENT_LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ClientError::Refused(format!(
                        "the server accepted {request} but sent no Content-Location to follow"
                    ))
                })?;
            let job = url.join(location).map_err(|e| {
                ClientError::Refused(format!("the job location {location:?} is not a URL ({e})"))
            })?;
            return Ok(job.to_string());
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = retry_after(response.headers());
            let _ = server_message(response).await;
            waits += 1;
            if waits > MAX_WAITS {
                return Err(ClientError::Refused(format!(
                    "the server kept answering 429 to {request}: another export of this ACO is \
                     still running; try again later"
                )));
            }
            match running_jobs(session, request).await? {
                Running {
                    same: Some(job), ..
                } => {
                    reporter.note(&format!(
                        "the same export is already running on the server (job {}); following it",
                        poll::job_label(&job)
                    ));
                    return Ok(job);
                }
                Running { others, .. } if !others.is_empty() => {
                    for (job, asked) in others {
                        reporter.note(&format!(
                            "job {} of this ACO ({asked}) is still running and the server runs \
                             one at a time; waiting for it to end",
                            poll::job_label(&job)
                        ));
                        poll::wait(session, &job, reporter).await?;
                    }
                }
                Running { .. } => {
                    // It ended between the 429 and the list: ask again
                    // after the server's wait.
                    let wait = wait
                        .unwrap_or(session.settings().timing.retry_delay)
                        .min(session.settings().timing.max_poll_interval);
                    tokio::time::sleep(wait).await;
                }
            }
            continue;
        }
        let message = server_message(response).await;
        return Err(refusal(request, status, &message));
    }
}

/// The error for a kick-off the server refused, with what to do about it.
fn refusal(request: &ExportRequest, status: StatusCode, message: &str) -> ClientError {
    let lower = message.to_ascii_lowercase();
    match status {
        StatusCode::NOT_FOUND if lower.contains("attribution") => ClientError::Refused(format!(
            "the server has no up-to-date attribution for this ACO yet ({status}: {message}): \
             attribution files arrive monthly; try again later (a sync keeps its _since until an \
             export completes)"
        )),
        StatusCode::FORBIDDEN if lower.contains("unauthorized") => ClientError::Refused(format!(
            "the server does not let this ACO export data ({status}: {message}): the ACO is on \
             the deny list or not yet enabled; contact BCDA support"
        )),
        StatusCode::UNAUTHORIZED => ClientError::Credentials(format!(
            "the server refused the access token for {request} ({status}: {message}); check the \
             credentials"
        )),
        StatusCode::BAD_REQUEST => ClientError::Refused(format!(
            "the server refused {request} ({status}: {message}); check --type, --since and \
             --type-filter"
        )),
        _ => ClientError::Refused(format!(
            "the server refused {request} ({status}: {message})"
        )),
    }
}

/// The ACO's running jobs of this API version, split by whether they ask
/// for the same export.
struct Running {
    same: Option<String>,
    others: Vec<(String, String)>,
}

/// Lists the running jobs (`GET /api/{v}/jobs?_status=Pending,In Progress`).
async fn running_jobs(session: &Session, request: &ExportRequest) -> Result<Running, ClientError> {
    let mut url = session
        .settings()
        .url(&format!("/api/{}/jobs", request.api.segment()));
    url.query_pairs_mut()
        .append_pair("_status", "Pending,In Progress");
    let response = session
        .send("listing running jobs", Auth::Bearer, |http| {
            http.get(url.clone())
                .header("Accept", "application/fhir+json")
        })
        .await?;
    let status = response.status();
    if !status.is_success() {
        let message = server_message(response).await;
        return Err(ClientError::Refused(format!(
            "the server answered 429 (another export is running) but listing its jobs failed \
             ({status}: {message}); try again later"
        )));
    }
    let bundle: serde_json::Value = response
        .json()
        .await
        .map_err(|e| ClientError::Refused(format!("the jobs list is not a FHIR Bundle ({e})")))?;
    let mut running = Running {
        same: None,
        others: Vec::new(),
    };
    let version = format!("/api/{}/", request.api.segment());
    for entry in bundle["entry"].as_array().into_iter().flatten() {
        let task = &entry["resource"];
        let Some(identifier) = task["identifier"].get(0) else {
            continue;
        };
        let (Some(system), Some(value)) =
            (identifier["system"].as_str(), identifier["value"].as_str())
        else {
            continue;
        };
        let asked = task["input"][0]["valueString"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("GET ")
            .to_owned();
        if !asked.contains(&version) {
            continue;
        }
        let job = format!("{}/{value}", system.trim_end_matches('/'));
        if running.same.is_none() && same_request(&asked, request) {
            running.same = Some(job);
        } else {
            running.others.push((job, asked));
        }
    }
    Ok(running)
}

/// Whether a kick-off URL asks for `request`: the same path and the same
/// `_type` set, `_since` and `_typeFilter`s.
fn same_request(asked: &str, request: &ExportRequest) -> bool {
    let Ok(url) = reqwest::Url::parse(asked) else {
        return false;
    };
    let path = format!("/api/{}/{}", request.api.segment(), request.scope.path());
    if !url.path().ends_with(&path) {
        return false;
    }
    let mut types: Vec<String> = Vec::new();
    let mut since = None;
    let mut filters: Vec<String> = Vec::new();
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "_type" => types.extend(value.split(',').map(|t| t.trim().to_owned())),
            "_since" => since = Some(value.into_owned()),
            "_typeFilter" => filters.push(value.into_owned()),
            _ => {}
        }
    }
    let mut wanted = request.types.clone();
    wanted.sort();
    types.sort();
    let mut wanted_filters = request.type_filters.clone();
    wanted_filters.sort();
    filters.sort();
    types == wanted && since == request.since && filters == wanted_filters
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::request::{Api, Scope};

    #[test]
    fn same_request_compares_path_types_and_since() {
        let request = ExportRequest {
            api: Api::V2,
            scope: Scope::GroupAll,
            types: vec!["Patient".into(), "Coverage".into()],
            since: Some("2026-01-01T00:00:00Z".into()),
            type_filters: vec![],
        };
        let base = "http://h/api/v2/Group/all/$export";
        assert!(same_request(
            &format!("{base}?_type=Coverage,Patient&_since=2026-01-01T00%3A00%3A00Z"),
            &request
        ));
        assert!(!same_request(&format!("{base}?_type=Coverage"), &request));
        assert!(!same_request(
            "http://h/api/v2/Patient/$export?_type=Coverage,Patient&_since=2026-01-01T00:00:00Z",
            &request
        ));
        assert!(!same_request(
            &format!("{base}?_type=Coverage,Patient"),
            &request
        ));
    }
}
