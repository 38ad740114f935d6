//! Which attribution file an export uses, with BCDA's rules and messages.

use time::OffsetDateTime;

use crate::claims::AttributionFile;
use crate::domain::AttributionKind;
use crate::domain::RequestKind;

/// How long a runout file may be used after its date (BCDA:
/// `RUNOUT_CUTOFF_DATE_DAYS`, 180).
pub const RUNOUT_AVAILABILITY: time::Duration = time::Duration::days(180);

/// The files an export works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The current file: its members are exported.
    pub current: AttributionFile,
    /// For Group/all with `_since`: the newest file dated at or before
    /// `_since`; members of `current` not in it are newly attributed.
    /// (System-level `$export` has no such rule: `_since` applies to every
    /// beneficiary, as on Patient/$export.)
    pub previous: Option<AttributionFile>,
}

/// Why no file can be used (each a 404 at kick-off).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// No file of the needed kind.
    #[error("failed to start job; attribution file not found")]
    NotFound,
    /// The newest file is of an earlier performance year.
    #[error(
        "unable to perform export operations for this Group. No up-to-date attribution information is available for ACOID '{0}'. Usually this is due to awaiting new attribution information at the beginning of a Performance Year"
    )]
    NotUpToDate(String),
    /// The runout file is older than its 180 days.
    #[error("runout data is no longer available. Runout data expires 180 days after ingestion")]
    RunoutExpired,
    /// Group/all with a `_since` before every file.
    #[error("failed to start job; attribution file not found for given _since parameter.")]
    NoFileForSince,
}

/// Chooses the files for a request of `kind` at `now` by ACO `cms_id`.
pub fn select(
    files: &[AttributionFile],
    kind: RequestKind,
    since: Option<OffsetDateTime>,
    now: OffsetDateTime,
    cms_id: &str,
) -> Result<Selection, SelectionError> {
    let file_kind = match kind {
        RequestKind::GroupRunout => AttributionKind::Runout,
        RequestKind::Patient | RequestKind::GroupAll | RequestKind::System => {
            AttributionKind::Default
        }
    };
    let mut candidates: Vec<&AttributionFile> = files
        .iter()
        .filter(|f| f.kind == file_kind && f.attributed_at <= now)
        .collect();
    // BCDA's order: performance year first, then the file's date.
    candidates.sort_by_key(|f| (f.performance_year, f.attributed_at));
    let current = (*candidates.last().ok_or(SelectionError::NotFound)?).clone();
    match kind {
        RequestKind::GroupRunout => {
            if current.performance_year != now.year() - 1 {
                return Err(SelectionError::NotFound);
            }
            if now - current.attributed_at > RUNOUT_AVAILABILITY {
                return Err(SelectionError::RunoutExpired);
            }
        }
        RequestKind::Patient | RequestKind::GroupAll | RequestKind::System => {
            if current.performance_year != now.year() {
                return Err(SelectionError::NotUpToDate(cms_id.to_owned()));
            }
        }
    }
    let previous = match (kind, since) {
        (RequestKind::GroupAll, Some(since)) => {
            // A `_since` at or after the newest file compares with the file
            // before it (BCDA uses "newest - 1 s").
            let bound = since.min(current.attributed_at - time::Duration::seconds(1));
            let older = candidates
                .iter()
                .filter(|f| f.attributed_at <= bound)
                .max_by_key(|f| f.attributed_at)
                .ok_or(SelectionError::NoFileForSince)?;
            Some((*older).clone())
        }
        _ => None,
    };
    Ok(Selection { current, previous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn file(key: i64, kind: AttributionKind, year: i32, at: OffsetDateTime) -> AttributionFile {
        AttributionFile {
            key,
            kind,
            performance_year: year,
            attributed_at: at,
            member_count: None,
        }
    }

    fn files() -> Vec<AttributionFile> {
        vec![
            file(
                1,
                AttributionKind::Default,
                2026,
                datetime!(2026-01-05 0:00 UTC),
            ),
            file(
                2,
                AttributionKind::Default,
                2026,
                datetime!(2026-02-05 0:00 UTC),
            ),
            file(
                3,
                AttributionKind::Default,
                2026,
                datetime!(2026-03-05 0:00 UTC),
            ),
            file(
                4,
                AttributionKind::Runout,
                2025,
                datetime!(2026-02-01 0:00 UTC),
            ),
        ]
    }

    const NOW: OffsetDateTime = datetime!(2026-03-10 0:00 UTC);

    #[test]
    fn patient_uses_the_newest_default_file() {
        let s = select(&files(), RequestKind::Patient, None, NOW, "A1").expect("selected");
        assert_eq!(s.current.key, 3);
        assert_eq!(s.previous, None);
    }

    #[test]
    fn system_uses_the_newest_default_file_without_the_new_beneficiary_rule() {
        // Even a `_since` before every file: no older file is looked for.
        let s = select(
            &files(),
            RequestKind::System,
            Some(datetime!(2025-01-01 0:00 UTC)),
            NOW,
            "A1",
        )
        .expect("selected");
        assert_eq!((s.current.key, s.previous), (3, None));
    }

    #[test]
    fn group_all_with_since_finds_the_older_file() {
        let s = select(
            &files(),
            RequestKind::GroupAll,
            Some(datetime!(2026-02-10 0:00 UTC)),
            NOW,
            "A1",
        )
        .expect("selected");
        assert_eq!((s.current.key, s.previous.map(|p| p.key)), (3, Some(2)));
        let after = select(
            &files(),
            RequestKind::GroupAll,
            Some(datetime!(2026-03-09 0:00 UTC)),
            NOW,
            "A1",
        )
        .expect("selected");
        assert_eq!(
            after.previous.map(|p| p.key),
            Some(2),
            "since after the newest file"
        );
        assert_eq!(
            select(
                &files(),
                RequestKind::GroupAll,
                Some(datetime!(2025-01-01 0:00 UTC)),
                NOW,
                "A1"
            ),
            Err(SelectionError::NoFileForSince)
        );
    }

    #[test]
    fn runout_rules() {
        let s = select(&files(), RequestKind::GroupRunout, None, NOW, "A1").expect("selected");
        assert_eq!(s.current.key, 4);
        assert_eq!(
            select(
                &files(),
                RequestKind::GroupRunout,
                None,
                datetime!(2026-09-01 0:00 UTC),
                "A1"
            ),
            Err(SelectionError::RunoutExpired)
        );
    }

    #[test]
    fn outdated_and_missing() {
        assert_eq!(
            select(
                &files(),
                RequestKind::Patient,
                None,
                datetime!(2027-01-10 0:00 UTC),
                "A1"
            ),
            Err(SelectionError::NotUpToDate("A1".into()))
        );
        assert_eq!(
            select(&[], RequestKind::Patient, None, NOW, "A1"),
            Err(SelectionError::NotFound)
        );
        assert!(
            SelectionError::NotUpToDate("A1".into())
                .to_string()
                .contains("No up-to-date attribution information")
        );
    }
}
