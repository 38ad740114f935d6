//! The HTTP conversation with the server: access tokens obtained and renewed
//! before they expire (and after a 401), transient failures retried with
//! backoff, server errors read into messages.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::ClientError;
use super::request::ServerSettings;

/// Renew a token this long before it expires (or at three quarters of its
/// life, when that is sooner), so no request races its expiry.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// A session with one server under one set of credentials.
pub struct Session {
    settings: ServerSettings,
    http: Client,
    token: Mutex<Option<Token>>,
}

/// An access token and when to replace it.
struct Token {
    value: String,
    renew_at: Instant,
}

/// `POST /auth/token`'s answer; BCDA sends `expires_in` as a string.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<serde_json::Value>,
}

/// Whether a request carries the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`, renewed after a 401.
    Bearer,
    /// No token (signed file URLs: the manifest says `requiresAccessToken: false`).
    None,
}

impl Session {
    /// A session; no request is made yet.
    pub fn new(settings: ServerSettings) -> Result<Session, ClientError> {
        let http = Client::builder()
            .user_agent(concat!("bcda-rs-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timing.network_timeout)
            .read_timeout(settings.timing.network_timeout)
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up HTTPS: {e}")))?;
        Ok(Session {
            settings,
            http,
            token: Mutex::new(None),
        })
    }

    /// The server and credentials.
    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    /// The current token, fetching a new one when there is none or it is
    /// about to expire.
    pub async fn token(&self) -> Result<String, ClientError> {
        let mut token = self.token.lock().await;
        if let Some(current) = token.as_ref()
            && Instant::now() < current.renew_at
        {
            return Ok(current.value.clone());
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *token = Some(fresh);
        Ok(value)
    }

    /// Forgets `stale` (the server said 401 to it), unless another request
    /// has already replaced it.
    async fn forget(&self, stale: &str) {
        let mut token = self.token.lock().await;
        if token.as_ref().is_some_and(|t| t.value == stale) {
            *token = None;
        }
    }

    /// `POST /auth/token` with HTTP Basic credentials, retrying transient
    /// failures and waiting out a rate limit.
    async fn fetch_token(&self) -> Result<Token, ClientError> {
        let url = self.settings.url("/auth/token");
        let mut failures = 0;
        loop {
            let sent = self
                .http
                .post(url.clone())
                .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
                .header("Accept", "application/json")
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    self.backoff(
                        &mut failures,
                        "asking for an access token",
                        &describe(&e),
                        None,
                    )
                    .await?;
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::OK {
                let issued = Instant::now();
                let body: TokenResponse = response.json().await.map_err(|e| {
                    ClientError::Network(format!(
                        "the token response from {url} is not BCDA's JSON ({e})"
                    ))
                })?;
                let lifetime = body
                    .expires_in
                    .as_ref()
                    .and_then(|v| match v {
                        serde_json::Value::String(s) => s.parse::<u64>().ok(),
                        other => other.as_u64(),
                    })
                    .unwrap_or(1200);
                let lifetime = Duration::from_secs(lifetime);
                let margin = RENEW_MARGIN.min(lifetime / 4);
                return Ok(Token {
                    value: body.access_token,
                    renew_at: issued + lifetime - margin,
                });
            }
            if is_transient(status) || status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(response.headers());
                let message = server_message(response).await;
                self.backoff(&mut failures, "asking for an access token", &message, wait)
                    .await?;
                continue;
            }
            let message = server_message(response).await;
            let id = &self.settings.client_id;
            return Err(match status {
                StatusCode::UNAUTHORIZED => ClientError::Credentials(format!(
                    "the server refused client id {id} with the secret in BCDA_CLIENT_SECRET \
                     ({status}: {message}): check both; secrets expire (BCDA: after 90 days), so \
                     the secret may need renewing by your BCDA contact"
                )),
                StatusCode::FORBIDDEN => ClientError::Refused(format!(
                    "the server will not give client id {id} a token ({status}: {message}): \
                     contact BCDA support"
                )),
                _ => ClientError::Credentials(format!(
                    "asking {url} for an access token failed ({status}: {message}); is --server \
                     the BCDA server's base URL?"
                )),
            });
        }
    }

    /// Sends a request built by `build` (called again for each attempt),
    /// with the bearer token when `auth` says so. A 401 renews the token
    /// and tries once more; connection failures, timeouts and 502/503/504
    /// are retried with backoff. Every other answer is returned as it is.
    pub async fn send(
        &self,
        what: &str,
        auth: Auth,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ClientError> {
        let mut failures = 0;
        let mut renewed = false;
        loop {
            let token = match auth {
                Auth::Bearer => Some(self.token().await?),
                Auth::None => None,
            };
            let mut request = build(&self.http);
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    self.backoff(&mut failures, what, &describe(&e), None)
                        .await?;
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED
                && !renewed
                && let Some(token) = &token
            {
                // Expired (or revoked, or the server's clock ran ahead):
                // one more try with a new token.
                renewed = true;
                self.forget(token).await;
                continue;
            }
            if is_transient(status) {
                let wait = retry_after(response.headers());
                let message = server_message(response).await;
                self.backoff(&mut failures, what, &format!("{status}: {message}"), wait)
                    .await?;
                continue;
            }
            return Ok(response);
        }
    }

    /// Counts a failure and waits before the next attempt (doubling from
    /// the retry delay, or as long as the server asked, within reason), or
    /// gives up after the allowed attempts.
    pub async fn backoff(
        &self,
        failures: &mut u32,
        what: &str,
        error: &str,
        server_wait: Option<Duration>,
    ) -> Result<(), ClientError> {
        *failures += 1;
        let timing = &self.settings.timing;
        if *failures >= timing.attempts {
            // A proxy from the environment is a likely culprit worth naming.
            let proxy = [
                "HTTPS_PROXY",
                "https_proxy",
                "HTTP_PROXY",
                "http_proxy",
                "ALL_PROXY",
            ]
            .into_iter()
            .find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
            .map(|name| format!(" (and the proxy {name} names)"))
            .unwrap_or_default();
            return Err(ClientError::Network(format!(
                "{what} failed {} times in a row (last: {error}); check the network and \
                 that {} is up{proxy}, then run the command again: it continues where it \
                 stopped",
                *failures, self.settings.base_url
            )));
        }
        let doubling = timing.retry_delay * 2u32.saturating_pow(*failures - 1);
        let wait = server_wait
            .map(|w| w.min(timing.max_poll_interval.max(timing.retry_delay)))
            .unwrap_or(doubling)
            .min(Duration::from_secs(120));
        tracing::debug!(what, error, ?wait, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// Worth trying again: the server or a proxy in front of it is busy or restarting.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// `Retry-After` in seconds (the HTTP-date form is not used by BCDA).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A reqwest error in a few words.
pub fn describe(error: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// What the server said in an error response: an OperationOutcome's
/// diagnostics, an OAuth error's description, or the start of the text.
pub async fn server_message(response: Response) -> String {
    let bytes = response.bytes().await.unwrap_or_default();
    message_of(&bytes)
}

/// [`server_message`] over a body already read.
pub fn message_of(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let diagnostics: Vec<&str> = json["issue"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|issue| issue["diagnostics"].as_str())
            .collect();
        if !diagnostics.is_empty() {
            return diagnostics.join("; ");
        }
        if let Some(error) = json["error"].as_str() {
            return match json["error_description"].as_str() {
                Some(description) => format!("{error}: {description}"),
                None => error.to_owned(),
            };
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no message".to_owned();
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_outcomes_oauth_errors_and_text() {
        let outcome = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"No up-to-date attribution information is available"}]}"#;
        assert_eq!(
            message_of(outcome),
            "No up-to-date attribution information is available"
        );
        let oauth = br#"{"error":"invalid_client","error_description":"bad signature"}"#;
        assert_eq!(message_of(oauth), "invalid_client: bad signature");
        assert_eq!(message_of(b"  Unauthorized\n"), "Unauthorized");
        assert_eq!(message_of(b""), "no message");
    }

    #[test]
    fn retry_after_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "5".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(5)));
    }
}
