//! What a client run asks for: the server and credentials, and the export.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ClientError;

/// BCDA's API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// STU3 resources.
    V1,
    /// R4 resources (and Claim / ClaimResponse for entitled ACOs).
    V2,
    /// R4 with `_typeFilter`.
    V3,
}

impl Api {
    /// The path segment: `v1`, `v2`, `v3`.
    pub fn segment(self) -> &'static str {
        match self {
            Api::V1 => "v1",
            Api::V2 => "v2",
            Api::V3 => "v3",
        }
    }
}

/// Which export: a group of the ACO's beneficiaries, or Patient/$export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// `Group/all/$export`: the current attribution.
    GroupAll,
    /// `Group/runout/$export`: last year's runout attribution.
    GroupRunout,
    /// `Patient/$export`.
    Patient,
}

impl Scope {
    /// The path after `/api/{v}/`.
    pub fn path(self) -> &'static str {
        match self {
            Scope::GroupAll => "Group/all/$export",
            Scope::GroupRunout => "Group/runout/$export",
            Scope::Patient => "Patient/$export",
        }
    }

    /// A short name for folders and messages: `all`, `runout`, `patient`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::GroupAll => "all",
            Scope::GroupRunout => "runout",
            Scope::Patient => "patient",
        }
    }
}

/// The export to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// API version.
    pub api: Api,
    /// Group or Patient export.
    pub scope: Scope,
    /// `_type` (empty: every type the ACO may see).
    #[serde(default)]
    pub types: Vec<String>,
    /// `_since`, a FHIR instant, as given.
    #[serde(default)]
    pub since: Option<String>,
    /// `_typeFilter` values (v3).
    #[serde(default)]
    pub type_filters: Vec<String>,
}

impl ExportRequest {
    /// The query parameters, in the order they are sent.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if !self.types.is_empty() {
            query.push(("_type", self.types.join(",")));
        }
        if let Some(since) = &self.since {
            query.push(("_since", since.clone()));
        }
        for filter in &self.type_filters {
            query.push(("_typeFilter", filter.clone()));
        }
        query
    }
}

impl fmt::Display for ExportRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/api/{}/{}", self.api.segment(), self.scope.path())?;
        let query = self.query();
        for (i, (name, value)) in query.iter().enumerate() {
            write!(f, "{}{name}={value}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// Where the server is and who the client is.
#[derive(Clone)]
pub struct ServerSettings {
    /// The server's base URL (`https://sandbox.bcda.cms.gov`), no trailing `/`.
    pub base_url: reqwest::Url,
    /// The client id.
    pub client_id: String,
    /// The client secret (from `BCDA_CLIENT_SECRET`; never printed).
    pub client_secret: String,
    /// How transient failures are retried and how often the job is polled.
    pub timing: Timing,
}

impl fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSettings")
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("timing", &self.timing)
            .finish()
    }
}

impl ServerSettings {
    /// Settings for `server` (a base URL: scheme, host, optional path
    /// prefix), checked.
    pub fn new(
        server: &str,
        client_id: &str,
        client_secret: &str,
        timing: Timing,
    ) -> Result<ServerSettings, ClientError> {
        let base_url = parse_server(server)?;
        if client_id.trim().is_empty() {
            return Err(ClientError::Usage("the client id is empty".into()));
        }
        if client_secret.is_empty() {
            return Err(ClientError::Usage(
                "the client secret is empty: set BCDA_CLIENT_SECRET".into(),
            ));
        }
        Ok(ServerSettings {
            base_url,
            client_id: client_id.trim().to_owned(),
            client_secret: client_secret.to_owned(),
            timing,
        })
    }

    /// `base_url` joined with an absolute path (`/auth/token`).
    pub fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}{path}", self.base_url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }
}

/// A server base URL: http(s), a host, no query.
pub fn parse_server(server: &str) -> Result<reqwest::Url, ClientError> {
    let url = reqwest::Url::parse(server.trim()).map_err(|e| {
        ClientError::Usage(format!(
            "--server {server:?} is not a URL ({e}); e.g. https://sandbox.bcda.cms.gov"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ClientError::Usage(format!(
            "--server {server:?} must be an http or https URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Usage(format!(
            "--server {server:?} must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// Waits and retries.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The longest wait between two status requests, whatever `Retry-After`
    /// says (and the wait when the server sends none).
    pub max_poll_interval: Duration,
    /// The first wait before retrying a failed request; doubled each time.
    pub retry_delay: Duration,
    /// Attempts in a row that may fail before the run gives up.
    pub attempts: u32,
    /// How long a connection may take to open, and a response to go quiet.
    pub network_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            max_poll_interval: Duration::from_secs(60),
            retry_delay: Duration::from_secs(1),
            attempts: 6,
            network_timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_display_and_query() {
        let request = ExportRequest {
            api: Api::V2,
            scope: Scope::GroupAll,
            types: vec!["Patient".into(), "Coverage".into()],
            since: Some("2026-01-01T00:00:00Z".into()),
            type_filters: vec![],
        };
        assert_eq!(
            request.to_string(),
            "/api/v2/Group/all/$export?_type=Patient,Coverage&_since=2026-01-01T00:00:00Z"
        );
    }

    #[test]
    fn server_urls() {
        let s = ServerSettings::new("http://localhost:3000/", "id", "secret", Timing::default())
            .expect("ok");
        assert_eq!(
            s.url("/auth/token").as_str(),
            "http://localhost:3000/auth/token"
        );
        let s =
            ServerSettings::new("https://h/prefix", "id", "secret", Timing::default()).expect("ok");
        assert_eq!(
            s.url("/api/v1/jobs").as_str(),
            "https://h/prefix/api/v1/jobs"
        );
        for bad in ["sandbox.bcda.cms.gov", "ftp://h", "http://h/?a=1", ""] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
        assert!(ServerSettings::new("http://h", "id", "", Timing::default()).is_err());
    }
}
