//! The jobs list (`GET /api/{v}/jobs`): a FHIR `searchset` Bundle with one
//! Task per job, as BCDA's `CreateJobsBundle` writes it, and the `_status`
//! filter that selects the jobs.
//!
//! Field order follows BCDA's (`resourceType`, `type`, `total`, `entry`;
//! Task `identifier`, `status`, `intent`, `input`, `executionPeriod`). Beyond
//! BCDA each Task has an `id` (the job id), and an empty list has no `entry`
//! key at all (FHIR forbids empty arrays). The same JSON is valid STU3
//! (v1) and R4 (v2); checked with Python `fhir.resources` 8.3.0, models
//! `STU3` and `R4B`.

use serde_json::{Map, Value, json};

use crate::clock::fhir_date_time;
use crate::fhir::ApiVersion;
use crate::http::error::ApiError;
use crate::store::jobs::{JobRecord, JobStatus};

/// The jobs list Bundle. `base_url` is the request's scheme and host
/// (`https://sandbox.bcda.cms.gov`; a trailing `/` is ignored).
pub fn jobs_bundle(base_url: &str, version: ApiVersion, jobs: &[JobRecord]) -> Value {
    let system = jobs_url(base_url, version);
    let mut bundle = Map::new();
    bundle.insert("resourceType".into(), json!("Bundle"));
    bundle.insert("type".into(), json!("searchset"));
    bundle.insert("total".into(), json!(jobs.len()));
    if !jobs.is_empty() {
        let entries = jobs
            .iter()
            .map(|job| json!({ "resource": task(&system, job) }))
            .collect();
        bundle.insert("entry".into(), Value::Array(entries));
    }
    Value::Object(bundle)
}

/// `<base>/api/<v>/jobs`: the identifier system, whose value is the job id.
fn jobs_url(base_url: &str, version: ApiVersion) -> String {
    format!(
        "{}/api/{}/jobs",
        base_url.trim_end_matches('/'),
        version.segment()
    )
}

/// One job as a Task.
fn task(system: &str, job: &JobRecord) -> Value {
    json!({
        "resourceType": "Task",
        "id": job.id.to_string(),
        "identifier": [{ "use": "official", "system": system, "value": job.id.to_string() }],
        "status": task_status(job.status),
        "intent": "order",
        // BCDA always says GET: the method is not stored with the job.
        "input": [{
            "type": { "text": "BULK FHIR Export" },
            "valueString": format!("GET {}", job.request_url),
        }],
        // Second precision in UTC, as BCDA (`DateTime_SECOND`).
        "executionPeriod": {
            "start": fhir_date_time(job.created_at),
            "end": fhir_date_time(job.updated_at),
        },
    })
}

/// The FHIR `TaskStatus` code of a job status (BCDA's `GetFhirStatusCode`).
/// BCDA's docs say Pending is `in-progress`; its code (and so this) says
/// `accepted`.
pub fn task_status(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Pending => "accepted",
        JobStatus::InProgress => "in-progress",
        JobStatus::Completed | JobStatus::Archived | JobStatus::Expired => "completed",
        JobStatus::Failed | JobStatus::FailedExpired => "failed",
        JobStatus::Cancelled | JobStatus::CancelledExpired => "cancelled",
    }
}

/// Parses a decoded `_status` value (`Completed,In Progress`): exact,
/// case-sensitive names, comma-separated, in the client's order. A list of
/// more than [`MAX_LIST_ITEMS`] items is refused first; then repeats are
/// checked over the whole list before names (as `_type` is). An empty item
/// is an unknown name, "". Linear in the value's length.
pub fn parse_status_filter(value: &str) -> Result<Vec<JobStatus>, ApiError> {
    let items = list_items(value, "_status")?;
    if let Some(repeat) = first_repeat(&items) {
        return Err(ApiError::BadRequest(format!(
            "Repeated status type {repeat}"
        )));
    }
    items
        .iter()
        .map(|item| JobStatus::parse(item).ok_or_else(|| unknown_status(item)))
        .collect()
}

/// The most items a comma-separated list parameter (`_status`, `_type`)
/// may hold: a few times the names there are, so every list a client
/// means is accepted, and the work per request stays small.
pub const MAX_LIST_ITEMS: usize = 32;

/// A list parameter's comma-separated items, or a 400 naming `parameter`
/// when there are more than [`MAX_LIST_ITEMS`]. Stops reading at the first
/// item past the cap.
pub fn list_items<'a>(value: &'a str, parameter: &str) -> Result<Vec<&'a str>, ApiError> {
    let mut items = Vec::new();
    for item in value.split(',') {
        if items.len() == MAX_LIST_ITEMS {
            return Err(too_many_items(parameter));
        }
        items.push(item);
    }
    Ok(items)
}

/// The 400 for a list parameter with more than [`MAX_LIST_ITEMS`] items.
pub fn too_many_items(parameter: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid parameter: {parameter} lists more than {MAX_LIST_ITEMS} items"
    ))
}

/// The first item equal to an earlier one (at most [`MAX_LIST_ITEMS`]
/// items: a set of what was seen keeps it linear whatever the cap).
pub fn first_repeat<S: AsRef<str>>(items: &[S]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items
        .iter()
        .map(AsRef::as_ref)
        .find(|item| !seen.insert(*item))
}

/// BCDA prints a Go map (random order); we list [`JobStatus::ALL`] in order.
fn unknown_status(item: &str) -> ApiError {
    let supported = JobStatus::ALL.map(JobStatus::as_str).join(" ");
    ApiError::BadRequest(format!(
        "invalid status type {item}. Supported types [{supported}]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::ResourceType;
    use crate::store::jobs::RequestKind;
    use time::macros::datetime;
    use uuid::Uuid;

    fn job(id: i64, status: JobStatus) -> JobRecord {
        JobRecord {
            id,
            aco_id: Uuid::nil(),
            api_version: ApiVersion::V2,
            request_url: "https://sandbox.example/api/v2/Group/all/$export?_type=Patient".into(),
            request_kind: RequestKind::GroupAll,
            resource_types: vec![ResourceType::Patient],
            since: None,
            status,
            transaction_time: None,
            tasks_total: 0,
            tasks_done: 0,
            created_at: datetime!(2024-06-01 12:00:00.789 -5),
            updated_at: datetime!(2024-06-01 17:30:05.001 UTC),
            completed_at: None,
        }
    }

    #[test]
    fn bundle_matches_bcda() {
        let bundle = jobs_bundle(
            "https://sandbox.example/",
            ApiVersion::V2,
            &[job(42, JobStatus::Completed)],
        );
        let expected = r#"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"resource":{"resourceType":"Task","id":"42","identifier":[{"use":"official","system":"https://sandbox.example/api/v2/jobs","value":"42"}],"status":"completed","intent":"order","input":[{"type":{"text":"BULK FHIR Export"},"valueString":"GET https://sandbox.example/api/v2/Group/all/$export?_type=Patient"}],"executionPeriod":{"start":"2024-06-01T17:00:00Z","end":"2024-06-01T17:30:05Z"}}}]}"#;
        assert_eq!(bundle.to_string(), expected);
    }

    #[test]
    fn bundle_lists_every_job_in_order() {
        let jobs = [
            job(3, JobStatus::Pending),
            job(2, JobStatus::Failed),
            job(1, JobStatus::Cancelled),
        ];
        let bundle = jobs_bundle("http://localhost:3000", ApiVersion::V1, &jobs);
        assert_eq!(bundle["total"], 3);
        let entries = bundle["entry"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let ids: Vec<&Value> = entries
            .iter()
            .map(|e| &e["resource"]["identifier"][0]["value"])
            .collect();
        assert_eq!(ids, ["3", "2", "1"]);
        let statuses: Vec<&Value> = entries.iter().map(|e| &e["resource"]["status"]).collect();
        assert_eq!(statuses, ["accepted", "failed", "cancelled"]);
        assert_eq!(
            entries[0]["resource"]["identifier"][0]["system"],
            "http://localhost:3000/api/v1/jobs"
        );
    }

    #[test]
    fn empty_bundle_has_no_entry() {
        let bundle = jobs_bundle("https://x", ApiVersion::V1, &[]);
        assert_eq!(
            bundle.to_string(),
            r#"{"resourceType":"Bundle","type":"searchset","total":0}"#
        );
    }

    #[test]
    fn task_statuses() {
        let cases = [
            (JobStatus::Pending, "accepted"),
            (JobStatus::InProgress, "in-progress"),
            (JobStatus::Completed, "completed"),
            (JobStatus::Archived, "completed"),
            (JobStatus::Expired, "completed"),
            (JobStatus::Failed, "failed"),
            (JobStatus::FailedExpired, "failed"),
            (JobStatus::Cancelled, "cancelled"),
            (JobStatus::CancelledExpired, "cancelled"),
        ];
        for (status, code) in cases {
            assert_eq!(task_status(status), code, "{status}");
        }
    }

    #[test]
    fn status_filter_valid() {
        let cases: [(&str, &[JobStatus]); 4] = [
            ("Completed", &[JobStatus::Completed]),
            (
                "Completed,In Progress",
                &[JobStatus::Completed, JobStatus::InProgress],
            ),
            (
                "In Progress,Pending",
                &[JobStatus::InProgress, JobStatus::Pending],
            ),
            (
                "Pending,In Progress,Completed,Failed,Cancelled,Archived,Expired,FailedExpired,CancelledExpired",
                &JobStatus::ALL,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_status_filter(value).ok().as_deref(),
                Some(want),
                "{value}"
            );
        }
    }

    #[test]
    fn status_filter_caps_items() {
        let message = |value: &str| match parse_status_filter(value) {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        };
        let cap = "Invalid parameter: _status lists more than 32 items";
        assert_eq!(
            message(&["Pending"; MAX_LIST_ITEMS].join(",")),
            "Repeated status type Pending"
        );
        assert_eq!(message(&["Pending"; MAX_LIST_ITEMS + 1].join(",")), cap);
        let distinct: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
        assert_eq!(message(&distinct.join(",")), cap);
        assert_eq!(message(&",".repeat(MAX_LIST_ITEMS)), cap);
    }

    #[test]
    fn status_filter_errors() {
        let unknown = |s: &str| {
            format!(
                "invalid status type {s}. Supported types [Pending In Progress Completed Failed Cancelled Archived Expired FailedExpired CancelledExpired]"
            )
        };
        let cases = [
            (
                "Completed,Completed",
                "Repeated status type Completed".to_owned(),
            ),
            (
                "Pending,Failed,Pending",
                "Repeated status type Pending".to_owned(),
            ),
            // Repeats are found before unknown names.
            (
                "Bogus,Failed,Failed",
                "Repeated status type Failed".to_owned(),
            ),
            ("Completed,,", "Repeated status type ".to_owned()),
            ("Bogus", unknown("Bogus")),
            ("completed", unknown("completed")),
            ("InProgress", unknown("InProgress")),
            ("Completed, Failed", unknown(" Failed")),
            ("", unknown("")),
            ("Completed,", unknown("")),
        ];
        for (value, want) in cases {
            match parse_status_filter(value) {
                Err(ApiError::BadRequest(message)) => assert_eq!(message, want, "{value:?}"),
                other => panic!("{value:?}: expected a 400, got {other:?}"),
            }
        }
    }
}
