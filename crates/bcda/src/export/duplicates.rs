//! The duplicate-job rule: when a kick-off is answered 429.
//!
//! BCDA (`bcda/web/middleware/ratelimit.go`) answers 429 when the ACO already
//! has a Pending or In Progress job on the same API version, created less
//! than `ARCHIVE_THRESHOLD_HR` (24 h) ago, that overlaps the new request.
//! The endpoint (Patient, Group/all, Group/runout) is not considered, and we
//! keep that (the system-level `$export` included). Nor are `patient`
//! subsets, `_since` or `_until`: two jobs of the same version sharing a
//! type conflict even when their patients are disjoint. The rule guards the
//! service, not the data; comparing subsets would let a client split one
//! export into many parallel ones, which is what it exists to prevent. BCDA's overlap test compares the old job's raw `_type` string
//! with each new type, so an old `_type=Patient,Coverage` blocks only a
//! request without `_type` or with the same URL; **we compare type sets**:
//! the request is a duplicate when any of its types is being exported by
//! such a job (a request without `_type` asks for every type, and a stored
//! job always lists the types it exports).
//!
//! BCDA exempts its test ACOs (`ratelimit.go`: CMS IDs matching
//! [`BCDA_TEST_ACOS`]), so in its sandbox A9994 may run overlapping exports
//! at once, and client test suites written against that sandbox do exactly
//! that. We exempt the same ACOs by default ([`ExemptAcos`], configurable).
//! BCDA sends `Retry-After: CLIENT_RETRY_AFTER_IN_SECONDS` (default 0); we
//! send an estimate of when the blocking jobs will be out of the way; see
//! [`Duplicate::retry_after`].
//!
//! The rule is checked in the same transaction that inserts the job, under
//! a per-ACO lock (`jobs::kickoff`), so simultaneous kick-offs yield one
//! job.

use std::time::Duration;

use time::OffsetDateTime;

use regex::Regex;

use crate::domain::{ApiVersion, ResourceType};
use crate::store::jobs::JobRecord;

/// BCDA's test ACOs, which the duplicate rule never applies to
/// (`bcda/web/middleware/ratelimit.go`, see docs/REFERENCES.md, "Duplicate rule
/// and test ACOs").
pub const BCDA_TEST_ACOS: &str = r"TEST\d{3}|A999\d|A888\d|D999\d|E999\d|V994|T8882";

/// The ACOs exempt from the duplicate rule: CMS IDs that match a pattern
/// as a whole, or none.
#[derive(Debug, Clone)]
pub struct ExemptAcos(Option<Regex>);

impl ExemptAcos {
    /// No ACO is exempt.
    pub const NONE: ExemptAcos = ExemptAcos(None);

    /// ACOs whose whole CMS ID matches `pattern` (an empty pattern exempts
    /// nobody). The pattern is anchored at both ends, so `A999\d` does not
    /// also exempt `XA9990Y`.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Ok(Self::NONE);
        }
        Regex::new(&format!("^(?:{pattern})$"))
            .map(|re| ExemptAcos(Some(re)))
            .map_err(|e| {
                // regex's message draws a caret under the pattern on several
                // lines; its last line says what is wrong.
                let text = e.to_string();
                let reason = text.lines().last().unwrap_or("invalid").trim();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                format!("not a valid regular expression ({reason})")
            })
    }

    /// Whether the ACO `cms_id` is exempt.
    pub fn exempts(&self, cms_id: &str) -> bool {
        self.0.as_ref().is_some_and(|re| re.is_match(cms_id))
    }
}

impl Default for ExemptAcos {
    /// BCDA's test ACOs ([`BCDA_TEST_ACOS`]).
    fn default() -> Self {
        Self::parse(BCDA_TEST_ACOS).unwrap_or(Self::NONE)
    }
}

/// How long an active job blocks new overlapping ones: BCDA's
/// `ARCHIVE_THRESHOLD_HR` default. A job that has not finished in a day is
/// presumed stuck, and must not lock its ACO out for ever.
pub const DEFAULT_WINDOW: time::Duration = time::Duration::hours(24);

/// The shortest `Retry-After`: HTTP counts in whole seconds, and 0 (BCDA's
/// default) invites a client to retry at once.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The wait suggested when a blocking job has no measurable progress yet
/// (Pending, or In Progress with no finished task): one minute, the cadence
/// at which a patient client re-polls anyway (smart-fetch waits 60 s).
pub const UNKNOWN_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest `Retry-After`: clients cap absurd values (docs/REFERENCES.md,
/// "Retry-After"), and an estimate further out is unreliable; ten
/// minutes keeps a three-digit value, like BCDA's production setting.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Why a kick-off is refused with 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The oldest blocking job (earliest `created_at`, then lowest id): the
    /// one the client most likely already polls.
    pub job_id: i64,
    /// The requested types that blocking jobs are exporting, in the
    /// request's order.
    pub overlapping: Vec<ResourceType>,
    /// When to try again: the longest wait over all blocking jobs, since the
    /// kick-off succeeds only once every one of them is out of the way. Each
    /// job's wait extrapolates its progress (time so far × tasks left ÷
    /// tasks done), falls back to [`UNKNOWN_RETRY_AFTER`] without progress,
    /// is clamped to [`MIN_RETRY_AFTER`]..=[`MAX_RETRY_AFTER`], and never
    /// exceeds the time until the job leaves the window.
    pub retry_after: Duration,
}

/// The duplicate that blocks a request for `resource_types` on `version`,
/// if any, among `existing` (the ACO's jobs; any status, any age: this
/// function filters).
///
/// A job blocks when it is Pending or In Progress, on the request's API
/// version, created less than `window` before `now`, and exports at least
/// one requested type.
pub fn duplicate_of(
    existing: &[JobRecord],
    version: ApiVersion,
    resource_types: &[ResourceType],
    now: OffsetDateTime,
    window: time::Duration,
) -> Option<Duplicate> {
    let blocking: Vec<&JobRecord> = existing
        .iter()
        .filter(|job| blocks(job, version, resource_types, now, window))
        .collect();
    let oldest = blocking.iter().min_by_key(|job| (job.created_at, job.id))?;
    let overlapping = resource_types
        .iter()
        .copied()
        .filter(|t| blocking.iter().any(|job| job.resource_types.contains(t)))
        .collect();
    let retry_after = blocking
        .iter()
        .map(|job| estimated_wait(job, now, window))
        .max()
        .unwrap_or(MIN_RETRY_AFTER);
    Some(Duplicate {
        job_id: oldest.id,
        overlapping,
        retry_after,
    })
}

/// Whether `job` blocks a request for `resource_types` on `version`.
fn blocks(
    job: &JobRecord,
    version: ApiVersion,
    resource_types: &[ResourceType],
    now: OffsetDateTime,
    window: time::Duration,
) -> bool {
    job.status.is_active()
        && job.api_version == version
        && in_window(job, now, window)
        && resource_types
            .iter()
            .any(|t| job.resource_types.contains(t))
}

/// Created less than `window` ago. The bound is exclusive so that it agrees
/// with the store's `active_since(now - window)` (`created_at > since`); BCDA
/// still blocks at exactly 24 h, one instant longer.
fn in_window(job: &JobRecord, now: OffsetDateTime, window: time::Duration) -> bool {
    now < job.created_at + window
}

/// How long until `job` is likely out of the way (see
/// [`Duplicate::retry_after`]).
fn estimated_wait(job: &JobRecord, now: OffsetDateTime, window: time::Duration) -> Duration {
    let estimate = progress_estimate(job, now)
        .unwrap_or(UNKNOWN_RETRY_AFTER)
        .clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER);
    let until_unblocked = to_std(job.created_at + window - now);
    estimate.min(until_unblocked).max(MIN_RETRY_AFTER)
}

/// Time so far × tasks left ÷ tasks done; `None` before the first task is
/// done (nothing to extrapolate from).
fn progress_estimate(job: &JobRecord, now: OffsetDateTime) -> Option<Duration> {
    if job.tasks_done <= 0 || job.tasks_total <= 0 {
        return None;
    }
    let left = (job.tasks_total - job.tasks_done).max(0);
    let elapsed = to_std(now - job.created_at);
    let per_task = elapsed.div_f64(job.tasks_done as f64);
    Some(per_task.mul_f64(left as f64))
}

/// A non-negative `std` duration (negative spans, e.g. from clock skew, are
/// zero).
fn to_std(span: time::Duration) -> Duration {
    Duration::try_from(span).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobStatus, RequestKind};
    use crate::export::request::ExportRequest;
    use time::macros::datetime;
    use uuid::Uuid;

    use ResourceType::{Coverage, ExplanationOfBenefit as Eob, Patient};

    const NOW: OffsetDateTime = datetime!(2024-06-01 12:00 UTC);

    fn job(
        id: i64,
        status: JobStatus,
        version: ApiVersion,
        types: &[ResourceType],
        age: time::Duration,
    ) -> JobRecord {
        JobRecord {
            id,
            aco_id: Uuid::nil(),
            api_version: version,
            request_url: format!(
                "https://example.test/api/{}/Patient/$export",
                version.segment()
            ),
            request_kind: RequestKind::Patient,
            resource_types: types.to_vec(),
            since: None,
            until: None,
            patient_mbis: Vec::new(),
            status,
            transaction_time: None,
            tasks_total: 0,
            tasks_done: 0,
            created_at: NOW - age,
            updated_at: NOW - age,
            completed_at: None,
            eob_filter: None,
            eob_filter_defaulted: false,
        }
    }

    fn pending(id: i64, types: &[ResourceType]) -> JobRecord {
        job(
            id,
            JobStatus::Pending,
            ApiVersion::V1,
            types,
            time::Duration::minutes(5),
        )
    }

    fn request(types: Option<&[ResourceType]>) -> ExportRequest {
        ExportRequest {
            version: ApiVersion::V1,
            kind: RequestKind::GroupAll,
            resource_types: types.map_or(ResourceType::ADJUDICATED.to_vec(), <[_]>::to_vec),
            since: None,
            until: None,
            patients: Vec::new(),
            type_filter: None,
        }
    }

    fn check(existing: &[JobRecord], request: &ExportRequest) -> Option<Duplicate> {
        duplicate_of(
            existing,
            request.version,
            &request.resource_types,
            NOW,
            DEFAULT_WINDOW,
        )
    }

    #[test]
    fn bcda_test_acos_are_exempt_by_default() {
        let exempt = ExemptAcos::default();
        for id in [
            "TEST995", "A9990", "A9994", "A8881", "D9999", "E9990", "V994", "T8882",
        ] {
            assert!(exempt.exempts(id), "{id}");
        }
        for id in [
            "A0001", "TEST99", "TEST9950", "XA9994", "A99940", "V9940", "",
        ] {
            assert!(!exempt.exempts(id), "{id}");
        }
        assert!(!ExemptAcos::parse("").expect("empty").exempts("A9994"));
        assert!(
            ExemptAcos::parse("A0001|A0002")
                .expect("ok")
                .exempts("A0002")
        );
        assert!(ExemptAcos::parse("(unclosed").is_err());
    }

    #[test]
    fn overlap_is_per_type() {
        // (existing job's types, requested types or None for all, overlap)
        type Types = &'static [ResourceType];
        let cases: [(Types, Option<Types>, Types); 8] = [
            (&[Patient], Some(&[Patient]), &[Patient]),
            (&[Patient, Coverage], Some(&[Coverage]), &[Coverage]),
            // BCDA misses this one: its old `_type` string is compared whole.
            (
                &[Patient, Coverage],
                Some(&[Eob, Coverage, Patient]),
                &[Coverage, Patient],
            ),
            (&[Eob], None, &[Eob]),
            (&ResourceType::ADJUDICATED, Some(&[Eob]), &[Eob]),
            (&ResourceType::ADJUDICATED, None, &ResourceType::ADJUDICATED),
            (&[Patient], Some(&[Coverage, Eob]), &[]),
            (&[Coverage, Eob], Some(&[Patient]), &[]),
        ];
        for (existing, wanted, overlap) in cases {
            let found = check(&[pending(7, existing)], &request(wanted));
            match found {
                Some(d) => {
                    assert_eq!(d.overlapping, overlap, "{existing:?} vs {wanted:?}");
                    assert_eq!(d.job_id, 7);
                }
                None => assert!(overlap.is_empty(), "{existing:?} vs {wanted:?}"),
            }
        }
    }

    #[test]
    fn only_active_jobs_block() {
        for status in JobStatus::ALL {
            let existing = [job(
                1,
                status,
                ApiVersion::V1,
                &[Patient],
                time::Duration::hours(1),
            )];
            let blocked = check(&existing, &request(None)).is_some();
            let active = matches!(status, JobStatus::Pending | JobStatus::InProgress);
            assert_eq!(blocked, active, "{status}");
        }
    }

    #[test]
    fn other_versions_do_not_block() {
        let existing = [job(
            1,
            JobStatus::InProgress,
            ApiVersion::V2,
            &ResourceType::ADJUDICATED,
            time::Duration::hours(1),
        )];
        assert_eq!(check(&existing, &request(None)), None);
        let mut v2 = request(None);
        v2.version = ApiVersion::V2;
        assert!(check(&existing, &v2).is_some());
    }

    #[test]
    fn endpoints_do_not_matter() {
        let mut existing = pending(1, &[Patient]);
        existing.request_kind = RequestKind::GroupRunout;
        let mut patient = request(Some(&[Patient]));
        patient.kind = RequestKind::Patient;
        assert!(check(&[existing], &patient).is_some());
    }

    #[test]
    fn old_jobs_do_not_block() {
        let at = |age| {
            [job(
                1,
                JobStatus::InProgress,
                ApiVersion::V1,
                &[Patient],
                age,
            )]
        };
        assert!(check(&at(time::Duration::hours(23)), &request(None)).is_some());
        assert!(check(&at(DEFAULT_WINDOW - time::Duration::SECOND), &request(None)).is_some());
        assert_eq!(check(&at(DEFAULT_WINDOW), &request(None)), None);
        assert_eq!(check(&at(time::Duration::hours(25)), &request(None)), None);
        // A shorter window applies.
        let existing = at(time::Duration::hours(2));
        assert_eq!(
            duplicate_of(
                &existing,
                ApiVersion::V1,
                &ResourceType::ADJUDICATED,
                NOW,
                time::Duration::hours(1)
            ),
            None
        );
    }

    #[test]
    fn no_jobs_no_duplicate() {
        assert_eq!(check(&[], &request(None)), None);
    }

    #[test]
    fn several_blocking_jobs() {
        let mut newer = pending(9, &[Coverage]);
        newer.created_at = NOW - time::Duration::minutes(1);
        let older = pending(12, &[Patient]);
        let ignored = job(
            3,
            JobStatus::Completed,
            ApiVersion::V1,
            &[Eob],
            time::Duration::minutes(30),
        );
        let found = check(
            &[newer, ignored, older],
            &request(Some(&[Eob, Patient, Coverage])),
        );
        let found = found.expect("a duplicate");
        assert_eq!(found.job_id, 12, "the oldest blocking job");
        assert_eq!(found.overlapping, [Patient, Coverage]);
    }

    #[test]
    fn retry_after_without_progress_is_the_default() {
        let found = check(&[pending(1, &[Patient])], &request(None)).expect("a duplicate");
        assert_eq!(found.retry_after, UNKNOWN_RETRY_AFTER);
    }

    #[test]
    fn retry_after_extrapolates_progress() {
        let with_progress = |age_secs: i64, done: i64, total: i64| {
            let mut j = job(
                1,
                JobStatus::InProgress,
                ApiVersion::V1,
                &[Patient],
                time::Duration::seconds(age_secs),
            );
            j.tasks_done = done;
            j.tasks_total = total;
            check(&[j], &request(None))
                .expect("a duplicate")
                .retry_after
        };
        // 100 s for 1 of 3 tasks: 200 s to go.
        assert_eq!(with_progress(100, 1, 3), Duration::from_secs(200));
        // 30 s for 3 of 4: 10 s.
        assert_eq!(with_progress(30, 3, 4), Duration::from_secs(10));
        // All done, about to complete: the minimum.
        assert_eq!(with_progress(30, 4, 4), MIN_RETRY_AFTER);
        // Slow jobs are capped.
        assert_eq!(with_progress(3600, 1, 10), MAX_RETRY_AFTER);
        // No tasks planned yet: the default.
        assert_eq!(with_progress(30, 0, 0), UNKNOWN_RETRY_AFTER);
    }

    #[test]
    fn retry_after_never_outlasts_the_window() {
        let age = DEFAULT_WINDOW - time::Duration::seconds(20);
        let found = check(
            &[job(1, JobStatus::Pending, ApiVersion::V1, &[Patient], age)],
            &request(None),
        );
        assert_eq!(found.map(|d| d.retry_after), Some(Duration::from_secs(20)));
        let age = DEFAULT_WINDOW - time::Duration::milliseconds(10);
        let found = check(
            &[job(1, JobStatus::Pending, ApiVersion::V1, &[Patient], age)],
            &request(None),
        );
        assert_eq!(found.map(|d| d.retry_after), Some(MIN_RETRY_AFTER));
    }

    #[test]
    fn retry_after_waits_for_the_slowest_blocking_job() {
        let mut fast = job(
            1,
            JobStatus::InProgress,
            ApiVersion::V1,
            &[Patient],
            time::Duration::seconds(30),
        );
        fast.tasks_done = 3;
        fast.tasks_total = 4;
        let slow = pending(2, &[Coverage]);
        let found = check(&[fast, slow], &request(None)).expect("a duplicate");
        // The pending job is also the older one (5 min against 30 s).
        assert_eq!(found.job_id, 2);
        assert_eq!(found.retry_after, UNKNOWN_RETRY_AFTER);
    }

    #[test]
    fn future_created_at_still_blocks() {
        // Clock skew between servers: a job "from the future" is active.
        let found = check(
            &[job(
                1,
                JobStatus::Pending,
                ApiVersion::V1,
                &[Patient],
                -time::Duration::minutes(1),
            )],
            &request(None),
        );
        assert_eq!(found.map(|d| d.retry_after), Some(UNKNOWN_RETRY_AFTER));
    }
}
