//! Time as an injected dependency, and the one form time takes in the
//! database.
//!
//! Everything that depends on "now" (token expiry, secret expiry, rate-limit
//! windows, job expiry) asks a [`Clock`], so tests move time forward
//! instead of sleeping. (FHIR's textual forms of time are
//! `fhir::time_format`.)

use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: std::fmt::Debug + Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The shared handle to a clock that the application passes around.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to: for tests, and for tools that replay
/// time (such as benchmarks that want a fixed `transactionTime`).
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward (or backward, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Unix epoch milliseconds: the one time representation in the database, so
/// the same queries and comparisons run on SQLite and PostgreSQL.
pub fn to_epoch_ms(t: OffsetDateTime) -> i64 {
    // i128 nanoseconds since 1970 fit i64 milliseconds for any plausible date.
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`to_epoch_ms`]. Values outside the representable range
/// (which the server never writes) clamp to the Unix epoch.
pub fn from_epoch_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The last whole millisecond strictly before `t`: an exclusive upper
/// bound (the Bulk Data IG's `_until`) as an inclusive one at the
/// database's resolution, where every `lastUpdated` is a whole millisecond.
pub fn last_ms_before(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.unix_timestamp_nanos();
    let floor = nanos.div_euclid(1_000_000);
    let last = if nanos.rem_euclid(1_000_000) == 0 {
        floor - 1
    } else {
        floor
    };
    from_epoch_ms(last as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_last_millisecond_before_an_instant() {
        assert_eq!(
            last_ms_before(datetime!(2024-01-01 0:00 UTC)),
            datetime!(2023-12-31 23:59:59.999 UTC)
        );
        assert_eq!(
            last_ms_before(datetime!(2024-01-01 0:00:00.0005 UTC)),
            datetime!(2024-01-01 0:00 UTC)
        );
        assert_eq!(
            last_ms_before(datetime!(2024-01-01 0:00:00.001 UTC)),
            datetime!(2024-01-01 0:00 UTC)
        );
    }

    #[test]
    fn epoch_ms_round_trips() {
        let t = datetime!(2024-02-29 23:59:59.123 UTC);
        assert_eq!(from_epoch_ms(to_epoch_ms(t)), t);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2020-01-01 0:00 UTC));
        clock.advance(Duration::minutes(21));
        assert_eq!(clock.now(), datetime!(2020-01-01 0:21 UTC));
    }
}
