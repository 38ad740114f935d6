//! Fetching and caching the JWKS of clients that registered a JWKS URL.
//!
//! A URL's keys are fetched when first needed and kept, by `kid`, as long
//! as its `Cache-Control` says (`max-age`; `no-store` and `no-cache` keep
//! them only for the shortest time below), within bounds: at least
//! [`JwksFetchSettings::refetch_interval`], at most
//! [`JwksFetchSettings::max_lifetime`], [`JwksFetchSettings::default_lifetime`]
//! when the server says nothing. An assertion naming a `kid` the cached set
//! lacks (the client rotated its keys) triggers a refetch, but a URL is
//! never fetched twice within `refetch_interval`, whatever callers send: a
//! stream of assertions with made-up `kid`s cannot make us hammer a
//! client's server. Concurrent lookups of one URL share one fetch.
//!
//! A fetch that fails (no answer within the timeout, a status other than
//! 200, a body that is not a valid JWKS) is logged here, once per fetch,
//! with its reason; callers only learn that the keys are unavailable (the
//! token endpoint's `invalid_client`).
//!
//! Cache times follow the injected clock, so tests move them; the network
//! timeouts are real time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::header;
use time::OffsetDateTime;

use super::jwks::{ClientKey, KeySet, MAX_JWKS_BYTES, SigningAlg};
use crate::clock::SharedClock;

/// How JWKS URLs are fetched and cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksFetchSettings {
    /// The limit on connecting, and on the whole request (connect, answer
    /// and body).
    pub timeout: Duration,
    /// How long keys are kept when the answer has no `Cache-Control`
    /// lifetime.
    pub default_lifetime: Duration,
    /// The longest keys are kept, whatever `max-age` says (so a key the
    /// client withdraws stops working within this).
    pub max_lifetime: Duration,
    /// The least time between two fetches of one URL (and the shortest
    /// time keys are kept, even under `no-store`).
    pub refetch_interval: Duration,
}

impl Default for JwksFetchSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            default_lifetime: Duration::from_secs(5 * 60),
            max_lifetime: Duration::from_secs(24 * 60 * 60),
            refetch_interval: Duration::from_secs(10),
        }
    }
}

/// The URL's keys could not be had (the reason is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksUnavailable;

/// Cached JWKS by URL.
pub struct JwksCache {
    settings: JwksFetchSettings,
    clock: SharedClock,
    /// Built on first use: admin commands that open the application never
    /// fetch, so they never load the TLS roots.
    http: OnceLock<Result<reqwest::Client, String>>,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One URL's cached keys and fetch history.
#[derive(Default)]
struct Entry {
    /// The keys of the last successful fetch, while they are fresh.
    keys: Option<KeySet>,
    /// When `keys` go stale.
    fresh_until: Option<OffsetDateTime>,
    /// When the URL was last fetched (successfully or not).
    last_attempt: Option<OffsetDateTime>,
}

/// URLs tracked at most; past it, entries with stale keys are dropped.
/// Only registered URLs are ever looked up, so this is a safety net.
const MAX_URLS: usize = 4096;

impl JwksCache {
    /// An empty cache.
    pub fn new(settings: JwksFetchSettings, clock: SharedClock) -> Self {
        Self {
            settings,
            clock,
            http: OnceLock::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key `kid` for `alg` among those published at `url`: from the
    /// cache, or fetched (see the module documentation for when). `Ok(None)`
    /// when the keys were had but none matches.
    pub async fn key(
        &self,
        url: &str,
        kid: &str,
        alg: SigningAlg,
    ) -> Result<Option<ClientKey>, JwksUnavailable> {
        let entry = self.entry(url);
        let mut entry = entry.lock().await;
        let now = self.clock.now();
        let may_fetch = entry
            .last_attempt
            .is_none_or(|last| now >= last + self.settings.refetch_interval);
        let fresh = entry.fresh_until.is_some_and(|until| now < until);
        if fresh {
            if let Some(key) = entry.keys.as_ref().and_then(|k| k.find(kid, alg)) {
                return Ok(Some(key.clone()));
            }
            if !may_fetch {
                return Ok(None);
            }
        } else {
            entry.keys = None;
            if !may_fetch {
                // The last fetch failed moments ago (a success would still
                // be fresh): do not try again yet.
                return Err(JwksUnavailable);
            }
        }
        entry.last_attempt = Some(now);
        match self.fetch(url).await {
            Ok((keys, lifetime)) => {
                let found = keys.find(kid, alg).cloned();
                entry.keys = Some(keys);
                entry.fresh_until = Some(now + lifetime);
                Ok(found)
            }
            Err(reason) => {
                tracing::warn!(jwks_url = url, reason = %reason, "fetching a client's JWKS failed");
                // Fresh keys from before stay (the client may only have
                // sent an unknown kid); stale ones are already gone.
                if fresh {
                    Ok(None)
                } else {
                    Err(JwksUnavailable)
                }
            }
        }
    }

    fn entry(&self, url: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !entries.contains_key(url) && entries.len() >= MAX_URLS {
            let now = self.clock.now();
            entries.retain(|_, e| {
                e.try_lock()
                    .map_or(true, |e| e.fresh_until.is_some_and(|until| now < until))
            });
        }
        entries.entry(url.to_owned()).or_default().clone()
    }

    /// Fetches and checks the JWKS at `url`, with how long to keep it.
    async fn fetch(&self, url: &str) -> Result<(KeySet, Duration), String> {
        let http = self
            .http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(self.settings.timeout)
                    .timeout(self.settings.timeout)
                    .redirect(reqwest::redirect::Policy::limited(3))
                    .user_agent(concat!("bcda/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot make an HTTP client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let mut response = http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("answered {}", response.status()));
        }
        let cache_control: Vec<String> = response
            .headers()
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the answer is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
        let keys = KeySet::parse(&text).map_err(|e| e.to_string())?;
        Ok((keys, cache_lifetime(&cache_control, &self.settings)))
    }
}

/// How long to keep keys given the answer's `Cache-Control` values, within
/// the settings' bounds.
fn cache_lifetime(values: &[String], settings: &JwksFetchSettings) -> Duration {
    let mut lifetime = None;
    for directive in values.iter().flat_map(|v| v.split(',')) {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        if name == "no-store" || name == "no-cache" {
            return settings.refetch_interval;
        }
        if name == "max-age"
            && let Ok(seconds) = value.trim().trim_matches('"').parse::<u64>()
        {
            lifetime = Some(Duration::from_secs(seconds));
        }
    }
    lifetime
        .unwrap_or(settings.default_lifetime)
        .clamp(settings.refetch_interval, settings.max_lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifetime(values: &[&str]) -> Duration {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        cache_lifetime(&values, &JwksFetchSettings::default())
    }

    #[test]
    fn cache_control_within_bounds() {
        assert_eq!(lifetime(&[]), Duration::from_secs(300));
        assert_eq!(lifetime(&["public, max-age=600"]), Duration::from_secs(600));
        assert_eq!(lifetime(&["max-age=\"60\""]), Duration::from_secs(60));
        assert_eq!(lifetime(&["max-age=0"]), Duration::from_secs(10));
        assert_eq!(lifetime(&["max-age=99999999"]), Duration::from_secs(86_400));
        assert_eq!(
            lifetime(&["max-age=600", "no-store"]),
            Duration::from_secs(10)
        );
        assert_eq!(lifetime(&["No-Cache"]), Duration::from_secs(10));
        assert_eq!(lifetime(&["max-age=soon"]), Duration::from_secs(300));
        assert_eq!(lifetime(&["private"]), Duration::from_secs(300));
    }
}
