//! What a queued task is: its kind, and the payload it carries, stored as
//! JSON in `tasks.payload`.
//!
//! The JSON is a stored format: tasks queued by one version of the server
//! may be run by the next one (a rolling upgrade, or a restart with work in
//! the queue), so field names and value shapes do not change. The test at
//! the bottom parses payloads as they are stored today.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::{EobFilter, ResourceType};

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Split a job into export tasks.
    Plan,
    /// Write one batch of beneficiaries' resources of one type to a file.
    Export,
}

impl TaskKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Plan => "plan",
            TaskKind::Export => "export",
        }
    }

    /// The kind a stored name names, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [TaskKind::Plan, TaskKind::Export]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A task's payload: the type fixes the task's kind, so the two cannot
/// disagree in the queue.
pub trait TaskPayload: Serialize + DeserializeOwned {
    /// The kind of task that carries this payload.
    const KIND: TaskKind;

    /// The stored form.
    fn to_json(&self) -> String {
        // Payloads hold only strings, numbers, dates written as strings, and
        // lists of them: serializing them cannot fail.
        serde_json::to_string(self).expect("a task payload always serializes")
    }

    /// Reads the stored form.
    fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The payload of a planning task: nothing, since the job row says what to
/// plan. Stored as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPayload {}

impl TaskPayload for PlanPayload {
    const KIND: TaskKind = TaskKind::Plan;
}

/// Which beneficiaries of a Group/all `_since` export a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cohort {
    /// Newly attributed: their full history.
    New,
    /// Attributed before `_since`: changes since then.
    Existing,
}

impl Cohort {
    /// The stored name (in task payloads and `job_files.cohort`) and the
    /// manifest's code.
    pub fn as_str(self) -> &'static str {
        match self {
            Cohort::New => "new",
            Cohort::Existing => "existing",
        }
    }

    /// The cohort a stored name names, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Cohort::New, Cohort::Existing]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// The payload of one export task: one batch of beneficiaries, one
/// resource type, one data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPayload {
    /// The resource type to write (stored by its FHIR name).
    #[serde(with = "resource_type_name")]
    pub resource_type: ResourceType,
    /// For Group/all with `_since`: new or existing beneficiaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<Cohort>,
    /// Lower bound on `lastUpdated`, if any (stored as epoch milliseconds).
    #[serde(
        rename = "since_ms",
        with = "epoch_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<OffsetDateTime>,
    /// Group/runout, ExplanationOfBenefit: the last service date exported
    /// (stored as `YYYY-MM-DD`).
    #[serde(
        with = "year_month_day::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub claims_through: Option<Date>,
    /// Upper bound on `lastUpdated` (inclusive) when it is earlier than the
    /// job's transaction time: the job's `_until` bound, and for partially
    /// adjudicated types at most the job's creation time, as BCDA queries
    /// them (stored as epoch milliseconds; absent: the transaction time,
    /// which is all payloads stored before `_until` existed need).
    #[serde(
        rename = "until_ms",
        with = "epoch_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<OffsetDateTime>,
    /// ExplanationOfBenefit on API v3: which claims the export keeps (the
    /// job's `_typeFilter` or its default, narrowed to the ACO's
    /// entitlement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eob_filter: Option<EobFilter>,
    /// The batch: each beneficiary's MBI and the claims source's key for
    /// it (none: unknown to the source, an error line in the export).
    pub beneficiaries: Vec<(String, Option<i64>)>,
}

impl TaskPayload for ExportPayload {
    const KIND: TaskKind = TaskKind::Export;
}

// Dates as `YYYY-MM-DD` (also for `eob_facts::EobFilter`).
time::serde::format_description!(pub(crate) year_month_day, Date, "[year]-[month]-[day]");

/// A resource type as its FHIR name.
mod resource_type_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::ResourceType;

    pub fn serialize<S: Serializer>(t: &ResourceType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceType, D::Error> {
        let name = String::deserialize(d)?;
        ResourceType::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource type {name:?}")))
    }
}

/// An optional instant as Unix epoch milliseconds, the form of every
/// timestamp in the database (`clock::to_epoch_ms`'s arithmetic, written
/// here since the vocabulary layer uses no other module).
mod epoch_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&((t.unix_timestamp_nanos() / 1_000_000) as i64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<i64>::deserialize(d)?
            .map(|ms| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    /// Export payloads as planning tasks have stored them since the queue
    /// began: every field set, and only the required ones.
    const STORED_FULL: &str = r#"{"resource_type":"ExplanationOfBenefit","cohort":"existing","since_ms":1700000000123,"claims_through":"2024-12-31","beneficiaries":[["1S00E00AA00",7],["1S00E00AA01",null]]}"#;
    const STORED_MINIMAL: &str = r#"{"resource_type":"Patient","beneficiaries":[]}"#;

    fn full() -> ExportPayload {
        ExportPayload {
            resource_type: ResourceType::ExplanationOfBenefit,
            cohort: Some(Cohort::Existing),
            since: Some(datetime!(2023-11-14 22:13:20.123 UTC)),
            claims_through: Some(date!(2024 - 12 - 31)),
            until: None,
            eob_filter: None,
            beneficiaries: vec![
                ("1S00E00AA00".to_owned(), Some(7)),
                ("1S00E00AA01".to_owned(), None),
            ],
        }
    }

    #[test]
    fn stored_export_payloads_parse() {
        assert_eq!(ExportPayload::from_json(STORED_FULL).expect("full"), full());
        let minimal = ExportPayload::from_json(STORED_MINIMAL).expect("minimal");
        assert_eq!(minimal.resource_type, ResourceType::Patient);
        assert_eq!(
            (minimal.cohort, minimal.since, minimal.claims_through),
            (None, None, None)
        );
        let new =
            r#"{"resource_type":"Coverage","cohort":"new","beneficiaries":[["1S00E00AA02",3]]}"#;
        assert_eq!(
            ExportPayload::from_json(new).expect("new").cohort,
            Some(Cohort::New)
        );
    }

    #[test]
    fn export_payloads_are_stored_as_before() {
        assert_eq!(full().to_json(), STORED_FULL);
        let minimal = ExportPayload::from_json(STORED_MINIMAL).expect("minimal");
        assert_eq!(minimal.to_json(), STORED_MINIMAL);
    }

    #[test]
    fn an_upper_bound_other_than_the_transaction_time_round_trips() {
        let claim = r#"{"resource_type":"Claim","until_ms":1700000000123,"beneficiaries":[]}"#;
        let payload = ExportPayload::from_json(claim).expect("claim");
        assert_eq!(payload.until, Some(datetime!(2023-11-14 22:13:20.123 UTC)));
        assert_eq!(payload.to_json(), claim);
    }

    #[test]
    fn plan_payloads_are_empty_objects() {
        assert_eq!(PlanPayload {}.to_json(), "{}");
        assert_eq!(PlanPayload::from_json("{}").expect("plan"), PlanPayload {});
    }

    #[test]
    fn bad_payloads_are_refused() {
        for bad in [
            r#"{"resource_type":"Observation","beneficiaries":[]}"#,
            r#"{"resource_type":"Patient","claims_through":"12/31/2024","beneficiaries":[]}"#,
            r#"{"resource_type":"Patient"}"#,
        ] {
            assert!(ExportPayload::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cohort_names_are_their_stored_form() {
        for cohort in [Cohort::New, Cohort::Existing] {
            assert_eq!(Cohort::parse(cohort.as_str()), Some(cohort));
            let json = serde_json::to_string(&cohort).expect("json");
            assert_eq!(json, format!("\"{}\"", cohort.as_str()));
        }
        assert_eq!(Cohort::parse("New"), None);
    }

    #[test]
    fn task_kinds_round_trip() {
        for kind in [TaskKind::Plan, TaskKind::Export] {
            assert_eq!(TaskKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TaskKind::parse("Plan"), None);
    }
}
