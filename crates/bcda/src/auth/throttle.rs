//! Throttling failed secret checks, per client id and per client address.
//!
//! Every failed `POST /auth/token` (wrong secret, unknown client id,
//! revoked credential) counts against the client id presented and against
//! the address it came from. Once either has had its limit of failures in a
//! window, further attempts are refused (429 with `Retry-After`) *before*
//! the secret is looked at: they cost neither an argon2 verification nor a
//! database query. The presented id is counted whether or not it exists,
//! so the answer cannot tell a known id from an unknown one.
//!
//! The state is in memory (a restart forgets it, which only gives an
//! attacker a fresh window) and bounded: each map holds at most
//! [`MAX_ENTRIES`], expired entries are dropped first, and when a flood of
//! random ids or addresses fills it, entries with the fewest failures go
//! before those close to (or at) their limit.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// Entries each map keeps at most (one for client ids, one for addresses):
/// about 40 bytes each, so a few megabytes whatever arrives.
pub const MAX_ENTRIES: usize = 65_536;

/// How many failures are tolerated, and for how long they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures per client id per window before its attempts are refused.
    pub per_client: u32,
    /// Failures per client address per window before its attempts are refused.
    pub per_address: u32,
    /// The window, counted from an id's or address's first failure in it.
    pub window: Duration,
}

impl Default for ThrottleSettings {
    /// 5 failures per client id and 20 per address per minute: a client that
    /// mistypes its secret is not locked out for long, while guessing runs at
    /// a few attempts a minute (secrets are 256 random bits anyway; the point
    /// is to stop failures from costing the server CPU and memory).
    fn default() -> Self {
        Self {
            per_client: 5,
            per_address: 20,
            window: Duration::from_secs(60),
        }
    }
}

/// Failure counts per client id and per address.
#[derive(Debug)]
pub struct FailureThrottle {
    settings: ThrottleSettings,
    /// Keyed by a keyed hash of the presented id: fixed size per entry
    /// however long the id sent, and not predictable by a client.
    clients: Mutex<Windows<u64>>,
    addresses: Mutex<Windows<AddressKey>>,
    hasher: RandomState,
}

impl FailureThrottle {
    /// An empty throttle.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            clients: Mutex::new(Windows::new(settings.per_client, MAX_ENTRIES)),
            addresses: Mutex::new(Windows::new(settings.per_address, MAX_ENTRIES)),
            hasher: RandomState::new(),
        }
    }

    /// `Err(wait)` when the client id or the address has used up its
    /// failures for now: how long until both may try again.
    pub fn check(
        &self,
        client_id: &str,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<(), Duration> {
        let window = self.settings.window;
        let client = lock(&self.clients).blocked_for(&self.client_key(client_id), now, window);
        let address = address
            .and_then(|a| lock(&self.addresses).blocked_for(&AddressKey::of(a), now, window));
        match client.max(address) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the client id and the address.
    pub fn record_failure(&self, client_id: &str, address: Option<IpAddr>, now: OffsetDateTime) {
        let window = self.settings.window;
        lock(&self.clients).record(self.client_key(client_id), now, window);
        if let Some(address) = address {
            lock(&self.addresses).record(AddressKey::of(address), now, window);
        }
    }

    /// Forgets the client id's failures once it proved its secret. The
    /// address's count stays: others behind the same address (a NAT, a
    /// proxy) may be the ones failing.
    pub fn record_success(&self, client_id: &str) {
        lock(&self.clients)
            .entries
            .remove(&self.client_key(client_id));
    }

    /// How many ids and addresses are tracked (for tests of the bound).
    pub fn tracked(&self) -> (usize, usize) {
        (
            lock(&self.clients).entries.len(),
            lock(&self.addresses).entries.len(),
        )
    }

    fn client_key(&self, client_id: &str) -> u64 {
        self.hasher.hash_one(client_id)
    }
}

/// A poisoned lock only means another request panicked mid-update of a
/// counter; the counts are still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What an address is counted as: an IPv4 address, or an IPv6 /64 (one
/// subscriber's usual allocation, so rotating through it does not escape
/// the count). IPv4-mapped IPv6 addresses count as their IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6Prefix(u64),
}

impl AddressKey {
    fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// One key's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Entry {
    started: OffsetDateTime,
    failures: u32,
}

/// Fixed windows per key, each starting at the key's first failure.
#[derive(Debug)]
struct Windows<K> {
    entries: HashMap<K, Entry>,
    limit: u32,
    cap: usize,
}

impl<K: Hash + Eq + Copy> Windows<K> {
    fn new(limit: u32, cap: usize) -> Self {
        Self {
            entries: HashMap::new(),
            limit,
            cap,
        }
    }

    fn blocked_for(&self, key: &K, now: OffsetDateTime, window: Duration) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        let ends = entry.started + window;
        (entry.failures >= self.limit && now < ends)
            .then(|| Duration::try_from(ends - now).unwrap_or(window))
    }

    fn record(&mut self, key: K, now: OffsetDateTime, window: Duration) {
        if let Some(entry) = self.entries.get_mut(&key) {
            if now < entry.started + window {
                entry.failures = entry.failures.saturating_add(1);
            } else {
                *entry = Entry {
                    started: now,
                    failures: 1,
                };
            }
            return;
        }
        if self.entries.len() >= self.cap {
            self.make_room(now, window);
        }
        self.entries.insert(
            key,
            Entry {
                started: now,
                failures: 1,
            },
        );
    }

    /// Drops expired entries; if that is not enough, drops an eighth of the
    /// map, fewest failures first and oldest among equals, so the work is
    /// paid once per many insertions and keys near their limit survive a
    /// flood of one-off keys.
    fn make_room(&mut self, now: OffsetDateTime, window: Duration) {
        self.entries.retain(|_, e| now < e.started + window);
        if self.entries.len() < self.cap {
            return;
        }
        let mut ranks: Vec<(u32, OffsetDateTime)> = self
            .entries
            .values()
            .map(|e| (e.failures, e.started))
            .collect();
        let evict = (self.cap / 8).max(1);
        let (_, &mut threshold, _) = ranks.select_nth_unstable(evict - 1);
        self.entries
            .retain(|_, e| (e.failures, e.started) > threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-02 12:00:00 UTC);

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            per_client: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_client_id_is_blocked_after_its_failures_until_the_window_ends() {
        let t = FailureThrottle::new(settings());
        let addr: IpAddr = "192.0.2.1".parse().expect("ip");
        for i in 0..3 {
            assert_eq!(t.check("id", Some(addr), T0), Ok(()), "attempt {i}");
            t.record_failure("id", None, T0 + time::Duration::seconds(i));
        }
        assert_eq!(
            t.check("id", None, T0 + time::Duration::seconds(10)),
            Err(Duration::from_secs(50))
        );
        assert_eq!(t.check("other", Some(addr), T0), Ok(()));
        assert_eq!(
            t.check("id", None, T0 + time::Duration::seconds(60)),
            Ok(())
        );
    }

    #[test]
    fn an_address_is_blocked_whatever_id_it_presents() {
        let t = FailureThrottle::new(settings());
        let addr: IpAddr = "192.0.2.1".parse().expect("ip");
        for i in 0..5 {
            t.record_failure(&format!("id{i}"), Some(addr), T0);
        }
        assert!(t.check("fresh", Some(addr), T0).is_err());
        assert_eq!(
            t.check("fresh", Some("192.0.2.2".parse().expect("ip")), T0),
            Ok(())
        );
        // A success clears the id, never the address.
        t.record_success("fresh");
        assert!(t.check("fresh", Some(addr), T0).is_err());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = FailureThrottle::new(settings());
        for i in 0..5 {
            let a: IpAddr = format!("2001:db8:1:2::{i:x}").parse().expect("ip");
            t.record_failure(&format!("id{i}"), Some(a), T0);
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().expect("ip");
        let other_64: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert!(t.check("x", Some(same_64), T0).is_err());
        assert_eq!(t.check("x", Some(other_64), T0), Ok(()));
        assert_eq!(
            AddressKey::of("::ffff:192.0.2.7".parse().expect("ip")),
            AddressKey::of("192.0.2.7".parse().expect("ip"))
        );
    }

    #[test]
    fn a_success_clears_the_client_id() {
        let t = FailureThrottle::new(settings());
        for _ in 0..3 {
            t.record_failure("id", None, T0);
        }
        assert!(t.check("id", None, T0).is_err());
        t.record_success("id");
        assert_eq!(t.check("id", None, T0), Ok(()));
    }

    #[test]
    fn the_maps_stay_bounded_and_keep_the_keys_near_their_limit() {
        let mut w: Windows<u64> = Windows::new(3, 64);
        let window = Duration::from_secs(60);
        for _ in 0..3 {
            w.record(u64::MAX, T0, window);
        }
        for key in 0..10_000u64 {
            w.record(key, T0 + time::Duration::milliseconds(key as i64), window);
            assert!(w.entries.len() <= 64);
        }
        assert!(
            w.blocked_for(&u64::MAX, T0, window).is_some(),
            "the blocked key survives"
        );
        // Past the window everything is expired and goes first: a new
        // window's keys all stay.
        let later = T0 + time::Duration::hours(1);
        for key in 0..64u64 {
            w.record((1 << 40) + key, later, window);
        }
        assert_eq!(w.entries.len(), 64);
        assert!((0..64u64).all(|key| w.entries.contains_key(&((1 << 40) + key))));
    }
}
