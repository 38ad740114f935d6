//! The jobs list (`GET /api/{v}/jobs`): a FHIR `searchset` Bundle with one
//! Task per job, as BCDA's `CreateJobsBundle` writes it. (The `_status`
//! filter that selects the jobs is `export::status_filter`.)
//!
//! Field order follows BCDA's (`resourceType`, `type`, `total`, `entry`;
//! Task `identifier`, `status`, `intent`, `input`, `executionPeriod`). Beyond
//! BCDA each Task has an `id` (the job id), and an empty list has no `entry`
//! key at all (FHIR forbids empty arrays). The same JSON is valid STU3
//! (v1) and R4 (v2); checked with Python `fhir.resources` 8.3.0, models
//! `STU3` and `R4B`.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::domain::{ApiVersion, JobStatus};
use crate::fhir::time_format::fhir_date_time;

/// What a Task shows of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTask<'a> {
    /// The job id: the Task's `id` and its `identifier` value.
    pub id: i64,
    /// Mapped to the Task's `status` by [`task_status`].
    pub status: JobStatus,
    /// The kick-off URL as received, shown as `GET <url>` in the Task's `input`.
    pub request_url: &'a str,
    /// `executionPeriod.start`, at second precision in UTC.
    pub created_at: OffsetDateTime,
    /// `executionPeriod.end` (the job's last change, as BCDA shows it), at second precision in UTC.
    pub updated_at: OffsetDateTime,
}

/// The jobs list Bundle. `base_url` is the request's scheme and host
/// (`https://sandbox.bcda.cms.gov`; a trailing `/` is ignored).
pub fn jobs_bundle(base_url: &str, version: ApiVersion, jobs: &[JobTask<'_>]) -> Value {
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
fn task(system: &str, job: &JobTask<'_>) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn job(id: i64, status: JobStatus) -> JobTask<'static> {
        JobTask {
            id,
            status,
            request_url: "https://sandbox.example/api/v2/Group/all/$export?_type=Patient",
            created_at: datetime!(2024-06-01 12:00:00.789 -5),
            updated_at: datetime!(2024-06-01 17:30:05.001 UTC),
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
}
