//! A job's lifecycle status and the kind of kick-off that made it.

use std::fmt;

/// A job's status, spelled as BCDA spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Accepted, not yet started.
    Pending,
    /// At least one export task finished, not yet all of them.
    InProgress,
    /// Every file is written; downloadable until it expires.
    Completed,
    /// A task failed for good (a permanent error, or out of attempts): its other tasks cancelled,
    /// its files deleted. Final.
    Failed,
    /// Cancelled by the client (`DELETE`) or `bcda jobs cancel` while Pending, In Progress or
    /// Completed. Final.
    Cancelled,
    /// Completed and past its download window; files archived.
    Archived,
    /// Archived past the archive window: its files deleted.
    Expired,
    /// A failed job, cleaned up.
    FailedExpired,
    /// A cancelled job, cleaned up.
    CancelledExpired,
}

impl JobStatus {
    /// Every status, in BCDA's order.
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Pending,
        JobStatus::InProgress,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Archived,
        JobStatus::Expired,
        JobStatus::FailedExpired,
        JobStatus::CancelledExpired,
    ];

    /// The name, e.g. `In Progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "Pending",
            JobStatus::InProgress => "In Progress",
            JobStatus::Completed => "Completed",
            JobStatus::Failed => "Failed",
            JobStatus::Cancelled => "Cancelled",
            JobStatus::Archived => "Archived",
            JobStatus::Expired => "Expired",
            JobStatus::FailedExpired => "FailedExpired",
            JobStatus::CancelledExpired => "CancelledExpired",
        }
    }

    /// Parses a name (exact).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Pending or In Progress: work may still happen.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::InProgress)
    }

    /// Whether a job in this status may have files on disk: while it runs,
    /// while they are downloadable, and while they are archived. Failed,
    /// cancelled and expired jobs keep none.
    pub fn keeps_files(self) -> bool {
        matches!(
            self,
            JobStatus::Pending | JobStatus::InProgress | JobStatus::Completed | JobStatus::Archived
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kick-off made the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `Patient/$export`.
    Patient,
    /// `Group/all/$export`.
    GroupAll,
    /// `Group/runout/$export`.
    GroupRunout,
    /// System-level `$export`: the ACO's whole current attribution, as
    /// Group/all but with `_since` applied to every beneficiary alike.
    System,
}

impl RequestKind {
    /// Every kind, in route order.
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Patient,
        RequestKind::GroupAll,
        RequestKind::GroupRunout,
        RequestKind::System,
    ];

    /// The name stored in `jobs.request_kind`: `patient`, `group_all`,
    /// `group_runout` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Patient => "patient",
            RequestKind::GroupAll => "group_all",
            RequestKind::GroupRunout => "group_runout",
            RequestKind::System => "system",
        }
    }

    /// Parses a name stored in `jobs.request_kind` (exact).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_kinds_round_trip_through_their_stored_names() {
        for kind in RequestKind::ALL {
            assert_eq!(RequestKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(RequestKind::parse("System"), None);
    }
}
