//! The completion manifest, as the Bulk Data IG and BCDA write it, and the
//! per-file facts a download is checked against.

use serde::{Deserialize, Serialize};

/// A job's manifest (only the fields the client uses; the whole JSON is
/// saved beside the files as received).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The instant the export's data were read: the next `_since`.
    #[serde(rename = "transactionTime")]
    pub transaction_time: String,
    /// The kick-off URL as the server received it.
    #[serde(default)]
    pub request: String,
    /// Whether file downloads need the bearer token (false with signed URLs).
    #[serde(rename = "requiresAccessToken", default = "yes")]
    pub requires_access_token: bool,
    /// The data files.
    #[serde(default)]
    pub output: Vec<ManifestFile>,
    /// The error files (OperationOutcome NDJSON).
    #[serde(default)]
    pub error: Vec<ManifestFile>,
}

fn yes() -> bool {
    true
}

/// One file of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Where to download it.
    pub url: String,
    /// Resources (lines) in it, when the server says.
    #[serde(default)]
    pub count: Option<u64>,
    /// Extensions: bcda-rs (and AB2D) give the length and SHA-256 here.
    #[serde(default)]
    pub extension: Vec<serde_json::Value>,
}

/// What a file must be once downloaded, from its manifest entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// Lines.
    pub count: Option<u64>,
    /// Bytes of NDJSON (uncompressed).
    pub length: Option<u64>,
    /// SHA-256 of the NDJSON, lower-case hex.
    pub sha256: Option<String>,
}

/// Which attribution cohort a Group/all `_since` file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cohort {
    /// Beneficiaries newly attributed since `_since`: their full history.
    New,
    /// Beneficiaries attributed before: changes since `_since`.
    Existing,
}

impl ManifestFile {
    /// The checks its manifest entry allows. Extensions are recognised by
    /// the end of their URL (`.../checksum`, `.../file-length`), which
    /// covers bcda-rs's and AB2D's.
    pub fn expected(&self) -> Expected {
        let mut expected = Expected {
            count: self.count,
            ..Expected::default()
        };
        for extension in &self.extension {
            let url = extension["url"].as_str().unwrap_or_default();
            if url.ends_with("checksum") {
                expected.sha256 = extension["valueString"]
                    .as_str()
                    .and_then(|v| v.strip_prefix("sha256:"))
                    .map(str::to_ascii_lowercase);
            } else if url.ends_with("file-length") || url.ends_with("file_length") {
                expected.length = extension["valueDecimal"]
                    .as_u64()
                    .or_else(|| extension["valueInteger"].as_u64());
            }
        }
        expected
    }

    /// The cohort the server marked the file with, if it did (bcda-rs's
    /// `attribution-cohort` extension; BCDA does not say).
    pub fn cohort(&self) -> Option<Cohort> {
        self.extension.iter().find_map(|extension| {
            let url = extension["url"].as_str()?;
            if !url.ends_with("attribution-cohort") {
                return None;
            }
            match extension["valueCode"].as_str()? {
                "new" => Some(Cohort::New),
                "existing" => Some(Cohort::Existing),
                _ => None,
            }
        })
    }

    /// The file name to save it under: the URL's last path segment when it
    /// is a plain name ending `.ndjson`, else `<type>-<n>.ndjson`.
    pub fn file_name(&self, index: usize) -> String {
        let last = reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|url| url.path_segments()?.next_back().map(str::to_owned))
            .unwrap_or_default();
        let plain = !last.starts_with('.')
            && last.ends_with(".ndjson")
            && last
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if plain {
            last
        } else {
            let kind: String = self
                .resource_type
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            format!("{kind}-{}.ndjson", index + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(url: &str, extension: serde_json::Value) -> ManifestFile {
        serde_json::from_value(serde_json::json!({
            "type": "Patient", "url": url, "count": 3, "extension": extension
        }))
        .expect("file")
    }

    #[test]
    fn expected_facts_from_extensions() {
        let f = file(
            "http://h/data/1/a.ndjson",
            serde_json::json!([
                {"url": "https://bcda-rs.github.io/fhir/StructureDefinition/checksum", "valueString": "sha256:ABCD"},
                {"url": "https://bcda-rs.github.io/fhir/StructureDefinition/file-length", "valueDecimal": 42},
                {"url": "https://bcda-rs.github.io/fhir/StructureDefinition/attribution-cohort", "valueCode": "new"}
            ]),
        );
        assert_eq!(
            f.expected(),
            Expected {
                count: Some(3),
                length: Some(42),
                sha256: Some("abcd".into())
            }
        );
        assert_eq!(f.cohort(), Some(Cohort::New));
        let ab2d = file(
            "http://h/data/1/a.ndjson",
            serde_json::json!([{"url": "https://ab2d.cms.gov/file_length", "valueDecimal": 7}]),
        );
        assert_eq!(ab2d.expected().length, Some(7));
        assert_eq!(ab2d.cohort(), None);
    }

    #[test]
    fn file_names_are_plain() {
        let none = serde_json::json!([]);
        assert_eq!(
            file("http://h/data/1/abc-1.ndjson", none.clone()).file_name(0),
            "abc-1.ndjson"
        );
        assert_eq!(
            file("http://h/data/1/abc.ndjson?expires=1&sig=x", none.clone()).file_name(0),
            "abc.ndjson"
        );
        assert_eq!(
            file("http://h/data/1/..ndjson", none.clone()).file_name(4),
            "Patient-5.ndjson"
        );
        assert_eq!(
            file("http://h/data/1/a%2Fb.ndjson", none).file_name(0),
            "Patient-1.ndjson"
        );
    }
}
