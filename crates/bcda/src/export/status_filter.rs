//! The jobs list's `_status` filter (`GET /api/{v}/jobs?_status=...`).

use super::list_param::{first_repeat, list_items};
use super::rejection::Rejection;
use crate::domain::JobStatus;

/// Parses a decoded `_status` value (`Completed,In Progress`): exact,
/// case-sensitive names, comma-separated, in the client's order. A list of
/// more than [`MAX_LIST_ITEMS`](super::list_param::MAX_LIST_ITEMS) items is
/// refused first; then repeats are checked over the whole list before names
/// (as `_type` is). An empty item is an unknown name, "". Linear in the
/// value's length.
pub fn parse_status_filter(value: &str) -> Result<Vec<JobStatus>, Rejection> {
    let items = list_items(value, "_status")?;
    if let Some(repeat) = first_repeat(&items) {
        return Err(Rejection::RepeatedStatus(repeat.to_owned()));
    }
    items
        .iter()
        .map(|item| {
            JobStatus::parse(item).ok_or_else(|| Rejection::InvalidStatus {
                item: (*item).to_owned(),
                // BCDA prints a Go map (random order); we list
                // `JobStatus::ALL` in order.
                supported: JobStatus::ALL.map(JobStatus::as_str).join(" "),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::list_param::MAX_LIST_ITEMS;

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
            Err(rejection) => rejection.to_string(),
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
                Err(rejection) => assert_eq!(rejection.to_string(), want, "{value:?}"),
                other => panic!("{value:?}: expected a 400, got {other:?}"),
            }
        }
    }
}
