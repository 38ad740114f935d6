//! The attribution history (CCLF8 files) of one synthetic ACO, laid out
//! against the anchor day so that it is always current
//! (docs/REFERENCES.md, "Sandbox attribution").
//!
//! Default files: one a month from January 2019 to the newest, which is
//! dated the day before the anchor (but never before January 1 of the
//! anchor's year, so it always belongs to the current performance year);
//! earlier files fall on the same day of the month. Each member's entry and
//! exit are stored as positions in that list, drawn from the member's own
//! sub-seed, so any file's roster is computed without the others.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::rng::Seed;
use super::timeline::{clamped_date, jan1};
use crate::domain::AttributionKind;

/// One attribution (CCLF8) file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributionFile {
    /// Default or runout: the `Y` or `R` of the file's CCLF name.
    pub kind: AttributionKind,
    /// The performance year the file belongs to.
    pub performance_year: i32,
    /// The file's timestamp (the `D..T..` of its name): UTC, whole seconds.
    pub timestamp: OffsetDateTime,
}

/// Where one pool member is in the list of default files: present in files
/// `entry..=exit` (positions, oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tenure {
    pub(crate) entry: usize,
    pub(crate) exit: Option<usize>,
}

/// The attribution layout of one ACO at one anchor.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Default files, oldest first.
    defaults: Vec<AttributionFile>,
    beneficiaries: u32,
    seed: Seed,
    anchor: Date,
}

fn at_midnight(date: Date) -> OffsetDateTime {
    PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc()
}

impl Layout {
    pub(crate) fn new(world: Seed, beneficiaries: u32, anchor: Date, stale: bool) -> Self {
        let newest = if stale {
            clamped_date(anchor.year() - 1, Month::December, 1)
        } else {
            (anchor - Duration::days(1)).max(jan1(anchor.year()))
        };
        let day = newest.day();
        let mut defaults = Vec::new();
        let (mut y, mut m) = (2019, Month::January);
        while (y, m as u8) < (newest.year(), newest.month() as u8) {
            let d = clamped_date(y, m, day);
            defaults.push(AttributionFile {
                kind: AttributionKind::Default,
                performance_year: y,
                timestamp: at_midnight(d),
            });
            if m == Month::December {
                y += 1;
            }
            m = m.next();
        }
        defaults.push(AttributionFile {
            kind: AttributionKind::Default,
            performance_year: newest.year(),
            timestamp: at_midnight(newest),
        });
        Layout {
            defaults,
            beneficiaries,
            seed: world.label("attribution"),
            anchor,
        }
    }

    /// Current members plus former members: a quarter of the current count,
    /// at least two.
    pub(crate) fn pool_size(&self) -> u32 {
        self.beneficiaries
            .saturating_add((self.beneficiaries / 4).max(2))
    }

    /// Every file, oldest first (runouts sorted in by timestamp).
    pub(crate) fn files(&self) -> Vec<AttributionFile> {
        let mut files = self.defaults.clone();
        files.extend(self.runouts().into_iter().map(|(f, _)| f));
        files.sort_by(|a, b| {
            a.timestamp
                .cmp(&b.timestamp)
                .then((a.kind as u8).cmp(&(b.kind as u8)))
        });
        files
    }

    /// Runout files with the position of the default file whose roster they
    /// repeat (the last default file of their performance year).
    fn runouts(&self) -> Vec<(AttributionFile, usize)> {
        let mut out = Vec::new();
        for year in 2019..self.anchor.year() {
            let Some(last) = self
                .defaults
                .iter()
                .rposition(|f| f.performance_year == year)
            else {
                continue;
            };
            let date = if year == self.anchor.year() - 1 {
                self.anchor - Duration::days(30)
            } else {
                clamped_date(year + 1, Month::March, 31)
            };
            out.push((
                AttributionFile {
                    kind: AttributionKind::Runout,
                    performance_year: year,
                    timestamp: at_midnight(date),
                },
                last,
            ));
        }
        out
    }

    /// Where pool member `index` sits in the default files (`None`: never a
    /// member, which happens to former members when there is only one file).
    pub(crate) fn tenure(&self, index: u32) -> Option<Tenure> {
        let n = self.defaults.len();
        let newest = n - 1;
        let mut rng = self.seed.num(u64::from(index)).rng();
        if index < self.beneficiaries {
            // Fixed late entrants so `_since` always splits new from existing.
            let entry = match index % 50 {
                1 | 2 => newest,
                r @ 25..=30 => newest.saturating_sub((r - 24) as usize),
                _ if rng.chance(650) => 0,
                _ => rng.range(1, newest.max(1) as i64) as usize,
            };
            return Some(Tenure {
                entry: entry.min(newest),
                exit: None,
            });
        }
        if n < 2 {
            return None;
        }
        // Former members left before the newest file; the first one left
        // just before it.
        let exit = if index == self.beneficiaries {
            n - 2
        } else {
            rng.range(0, (n - 2) as i64) as usize
        };
        let entry = if rng.chance(500) {
            0
        } else {
            rng.range(0, exit as i64) as usize
        };
        Some(Tenure {
            entry,
            exit: Some(exit),
        })
    }

    /// The pool indices in `file`, ascending.
    pub(crate) fn members(&self, file: &AttributionFile) -> Vec<u32> {
        let Some(position) = self.position(file) else {
            return Vec::new();
        };
        (0..self.pool_size())
            .filter(|&i| self.member_at(i, position))
            .collect()
    }

    /// Whether pool member `index` is in `file`, without computing the
    /// whole roster.
    pub(crate) fn contains(&self, file: &AttributionFile, index: u32) -> bool {
        index < self.pool_size()
            && self
                .position(file)
                .is_some_and(|position| self.member_at(index, position))
    }

    /// Where `file` sits among the default files (a runout file: the
    /// default file its roster is), if it is this layout's.
    fn position(&self, file: &AttributionFile) -> Option<usize> {
        match file.kind {
            AttributionKind::Default => self.defaults.iter().position(|f| f == file),
            AttributionKind::Runout => self
                .runouts()
                .into_iter()
                .find(|(f, _)| f == file)
                .map(|(_, p)| p),
        }
    }

    /// Whether pool member `index` is attributed in the default file at
    /// `position`.
    fn member_at(&self, index: u32, position: usize) -> bool {
        self.tenure(index)
            .is_some_and(|t| t.entry <= position && t.exit.is_none_or(|e| position <= e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn layout(anchor: Date, stale: bool) -> Layout {
        Layout::new(Seed::new(1).label("A9994"), 50, anchor, stale)
    }

    #[test]
    fn newest_default_is_the_day_before_the_anchor_and_exactly_the_roster() {
        let l = layout(date!(2025 - 06 - 18), false);
        let files = l.files();
        let newest = files
            .iter()
            .rfind(|f| f.kind == AttributionKind::Default)
            .expect("a default file");
        assert_eq!(newest.timestamp, datetime!(2025-06-17 0:00 UTC));
        assert_eq!(newest.performance_year, 2025);
        assert_eq!(l.members(newest), (0..50).collect::<Vec<_>>());
        assert!(l.contains(newest, 49) && !l.contains(newest, 50));
        let first = &files[0];
        assert_eq!(first.timestamp, datetime!(2019-01-17 0:00 UTC));
        let defaults = files
            .iter()
            .filter(|f| f.kind == AttributionKind::Default)
            .count();
        assert_eq!(defaults, 6 * 12 + 6);
        // Roughly 65 % of current members from the first file.
        let in_first = l.members(first).iter().filter(|&&i| i < 50).count();
        assert!((25..=42).contains(&in_first), "{in_first}");
        for f in &files {
            let m = l.members(f);
            assert!(m.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn newest_file_never_precedes_the_performance_year() {
        let l = layout(date!(2026 - 01 - 01), false);
        let newest = l
            .files()
            .into_iter()
            .rfind(|f| f.kind == AttributionKind::Default)
            .expect("file");
        assert_eq!(newest.timestamp, datetime!(2026-01-01 0:00 UTC));
        assert_eq!(newest.performance_year, 2026);
        // Earlier files also on the 1st.
        assert!(
            l.files()
                .iter()
                .all(|f| f.kind == AttributionKind::Runout || f.timestamp.day() == 1)
        );
    }

    #[test]
    fn runouts_follow_the_rules() {
        let anchor = date!(2025 - 06 - 18);
        let l = layout(anchor, false);
        let runouts: Vec<_> = l
            .files()
            .into_iter()
            .filter(|f| f.kind == AttributionKind::Runout)
            .collect();
        assert_eq!(
            runouts
                .iter()
                .map(|f| f.performance_year)
                .collect::<Vec<_>>(),
            vec![2019, 2020, 2021, 2022, 2023, 2024]
        );
        assert_eq!(runouts[5].timestamp, datetime!(2025-05-19 0:00 UTC));
        assert_eq!(runouts[0].timestamp, datetime!(2020-03-31 0:00 UTC));
        // A runout repeats the roster at the end of its year.
        let dec_2023 = l
            .files()
            .into_iter()
            .rfind(|f| f.kind == AttributionKind::Default && f.performance_year == 2023)
            .expect("file");
        assert_eq!(l.members(&runouts[4]), l.members(&dec_2023));
    }

    #[test]
    fn stale_attribution_ends_in_december() {
        let l = layout(date!(2025 - 06 - 18), true);
        let files = l.files();
        let newest = files
            .iter()
            .rfind(|f| f.kind == AttributionKind::Default)
            .expect("file");
        assert_eq!(newest.timestamp, datetime!(2024-12-01 0:00 UTC));
        assert!(
            files
                .iter()
                .all(|f| f.kind == AttributionKind::Runout || f.performance_year < 2025)
        );
        assert_eq!(l.members(newest).len(), 50);
    }

    #[test]
    fn since_splits_members_into_new_and_existing() {
        let l = layout(date!(2025 - 06 - 18), false);
        let files: Vec<_> = l
            .files()
            .into_iter()
            .filter(|f| f.kind == AttributionKind::Default)
            .collect();
        let newest = l.members(files.last().expect("file"));
        for old in &files[..files.len() - 1] {
            let old = l.members(old);
            let existing = newest.iter().filter(|i| old.contains(i)).count();
            assert!(existing > 0 && existing < newest.len());
        }
        // Former members appear in some file but not the newest.
        let formers: Vec<u32> = (50..l.pool_size()).collect();
        assert!(formers.len() >= 2);
        assert!(formers.iter().all(|i| !newest.contains(i)));
        let before_newest = l.members(&files[files.len() - 2]);
        assert!(before_newest.contains(&50));
    }
}
