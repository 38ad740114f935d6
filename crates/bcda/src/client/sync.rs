//! `bcda client sync`: BCDA's recommended daily pattern. Each run's
//! `_since` is the `transactionTime` of the last export that completed for
//! the same server, ACO, API version and group (none the first time: the
//! full history); each run keeps its files in its own dated folder; a run
//! cut short is finished by the next sync before a new one starts. The
//! ledger `bcda-sync.json` at the top of the directory remembers it all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::ClientError;
use super::export::{self, ExportOptions, Finished};
use super::progress::Reporter;
use super::request::{Api, ExportRequest, Scope};
use super::session::Session;
use super::state::{now_rfc3339, write_atomically};

/// The ledger's file name.
pub const LEDGER_FILE: &str = "bcda-sync.json";
const FORMAT: u32 = 1;

/// What a sync asks for.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The top directory (runs go in dated folders below it).
    pub dir: PathBuf,
    /// API version.
    pub api: Api,
    /// Group (all or runout) or Patient.
    pub scope: Scope,
    /// `_type` (empty: every type).
    pub types: Vec<String>,
    /// `_typeFilter` values (v3).
    pub type_filters: Vec<String>,
    /// Keep files gzip-compressed.
    pub keep_gzip: bool,
    /// Files downloaded at once.
    pub connections: usize,
}

/// The ledger: one stream per server, ACO, API version and group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// [`FORMAT`].
    pub format: u32,
    /// Streams by key (`<server> <aco> <api> <group>`).
    pub streams: BTreeMap<String, Stream>,
}

/// One sequence of incremental exports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stream {
    /// The server's base URL.
    pub server: String,
    /// The ACO (its CMS ID, as the access token names it, else the client id).
    pub aco: String,
    /// API version.
    pub api: Api,
    /// Group or Patient.
    pub scope: Scope,
    /// `_type` of every run.
    #[serde(default)]
    pub types: Vec<String>,
    /// `_typeFilter` of every run.
    #[serde(default)]
    pub type_filters: Vec<String>,
    /// The next run's `_since`: the last completed export's transactionTime.
    pub since: Option<String>,
    /// Every run, oldest first.
    pub runs: Vec<RunRecord>,
}

/// One run of a stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// Its folder, relative to the top directory.
    pub folder: String,
    /// The `_since` it sent.
    pub since: Option<String>,
    /// When it started.
    pub started_at: String,
    /// Its export's transactionTime, once complete.
    #[serde(default)]
    pub transaction_time: Option<String>,
    /// When every file was verified.
    #[serde(default)]
    pub completed_at: Option<String>,
    /// The server ended its job before it was downloaded (expired,
    /// failed, cancelled): the next run asks again from the same `_since`.
    #[serde(default)]
    pub abandoned: Option<String>,
    /// Files and resources, once complete.
    #[serde(default)]
    pub files: Option<usize>,
    /// Resources in the data files, once complete.
    #[serde(default)]
    pub resources: Option<u64>,
}

/// What a sync did: each run it finished (an earlier one cut short, then a new one).
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The runs, with their folders.
    pub runs: Vec<Finished>,
    /// The `_since` the next sync will send.
    pub next_since: Option<String>,
}

/// Runs one sync.
pub async fn sync(
    session: Arc<Session>,
    options: &SyncOptions,
    reporter: &Reporter,
) -> Result<SyncReport, ClientError> {
    let top = &options.dir;
    std::fs::create_dir_all(top).map_err(|e| ClientError::disk("create", top, &e, top))?;
    let aco = aco_of(&session).await?;
    let server = session.settings().base_url.to_string();
    let key = format!(
        "{server} {aco} {} {}",
        options.api.segment(),
        options.scope.name()
    );
    let mut ledger = Ledger::load(top)?;
    let stream = ledger.streams.entry(key.clone()).or_insert_with(|| Stream {
        server: server.clone(),
        aco: aco.clone(),
        api: options.api,
        scope: options.scope,
        types: options.types.clone(),
        type_filters: options.type_filters.clone(),
        since: None,
        runs: Vec::new(),
    });
    if stream.types != options.types || stream.type_filters != options.type_filters {
        return Err(ClientError::Usage(format!(
            "{} syncs {} of {aco} with --type {:?} and --type-filter {:?}; a different selection \
             needs its own directory",
            top.display(),
            options.scope.name(),
            stream.types.join(","),
            stream.type_filters
        )));
    }
    let export_options = |folder: &str| ExportOptions {
        dir: top.join(folder),
        keep_gzip: options.keep_gzip,
        connections: options.connections,
    };
    let mut report = SyncReport {
        runs: Vec::new(),
        next_since: None,
    };

    // A run cut short is finished first, so no day is skipped.
    let unfinished = stream
        .runs
        .last()
        .filter(|r| r.completed_at.is_none() && r.abandoned.is_none())
        .map(|r| r.folder.clone());
    if let Some(folder) = unfinished {
        reporter.note(&format!("finishing the run cut short in {folder}"));
        let options = export_options(&folder);
        match export::resume(session.clone(), &options, reporter).await {
            Ok(finished) => {
                complete(ledger.streams.get_mut(&key).expect("stream"), &finished);
                ledger.save(top)?;
                report.runs.push(finished);
            }
            Err(ClientError::Job(why)) => {
                reporter.note(&format!(
                    "the run in {folder} cannot be finished ({why}); asking again from the same _since"
                ));
                if let Some(run) = ledger
                    .streams
                    .get_mut(&key)
                    .expect("stream")
                    .runs
                    .last_mut()
                {
                    run.abandoned = Some(why);
                }
                ledger.save(top)?;
            }
            Err(e) => return Err(e),
        }
    }

    let stream = ledger.streams.get_mut(&key).expect("stream");
    let since = stream.since.clone();
    let folder = run_folder(top, &aco, options.api, options.scope);
    stream.runs.push(RunRecord {
        folder: folder.clone(),
        since: since.clone(),
        started_at: now_rfc3339(),
        transaction_time: None,
        completed_at: None,
        abandoned: None,
        files: None,
        resources: None,
    });
    ledger.save(top)?;
    match &since {
        Some(since) => reporter.note(&format!("new run in {folder}: changes since {since}")),
        None => reporter.note(&format!("first run in {folder}: the full history")),
    }
    let request = ExportRequest {
        api: options.api,
        scope: options.scope,
        types: options.types.clone(),
        since,
        type_filters: options.type_filters.clone(),
    };
    let result = export::export(session, &request, &export_options(&folder), reporter).await;
    let stream = ledger.streams.get_mut(&key).expect("stream");
    match result {
        Ok(finished) => {
            complete(stream, &finished);
            report.next_since = stream.since.clone();
            ledger.save(top)?;
            report.runs.push(finished);
            Ok(report)
        }
        Err(e) => {
            // Refused before any job existed: the run never was.
            let started = export::state_of(&top.join(&folder))
                .map(|s| s.job_url.is_some())
                .unwrap_or(false);
            if !started {
                stream.runs.pop();
                let _ = std::fs::remove_dir_all(top.join(&folder));
                ledger.save(top)?;
            }
            Err(e)
        }
    }
}

/// Marks the stream's last run complete and moves `_since` on.
fn complete(stream: &mut Stream, finished: &Finished) {
    stream.since = Some(finished.transaction_time.clone());
    if let Some(run) = stream.runs.last_mut() {
        run.transaction_time = Some(finished.transaction_time.clone());
        run.completed_at = Some(now_rfc3339());
        run.files = Some(finished.files);
        run.resources = Some(finished.resources);
    }
}

/// `<aco>/<api>-<group>/<UTC start, e.g. 2026-12-01T10-30-00Z>`, with a
/// `-2`, `-3`... when a run of the same second is already there.
fn run_folder(top: &Path, aco: &str, api: Api, scope: Scope) -> String {
    let stamp = now_rfc3339().replace(':', "-");
    let safe: String = aco
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("{safe}/{}-{}/{stamp}", api.segment(), scope.name());
    let mut folder = base.clone();
    let mut n = 1;
    while top.join(&folder).exists() {
        n += 1;
        folder = format!("{base}-{n}");
    }
    folder
}

/// The ACO the credentials act for: the access token's `aco` claim
/// (bcda-rs) or `cms_ids` (BCDA's), else the client id.
async fn aco_of(session: &Session) -> Result<String, ClientError> {
    let token = session.token().await?;
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let named = claims.as_ref().and_then(|claims| {
        claims["aco"]
            .as_str()
            .or_else(|| claims["cms_ids"].as_array()?.first()?.as_str())
            .or_else(|| claims["cms_ids"].as_str())
            .map(str::to_owned)
    });
    Ok(named.unwrap_or_else(|| session.settings().client_id.clone()))
}

impl Ledger {
    /// Loads the ledger in `top` (empty when there is none).
    pub fn load(top: &Path) -> Result<Ledger, ClientError> {
        let path = top.join(LEDGER_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Ledger {
                    format: FORMAT,
                    streams: BTreeMap::new(),
                });
            }
            Err(e) => return Err(ClientError::disk("read", &path, &e, top)),
        };
        let ledger: Ledger = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Usage(format!(
                "{} is not a bcda sync ledger ({e})",
                path.display()
            ))
        })?;
        if ledger.format > FORMAT {
            return Err(ClientError::Usage(format!(
                "{} was written by a newer bcda; use that version",
                path.display()
            )));
        }
        Ok(ledger)
    }

    /// Saves it atomically.
    pub fn save(&self, top: &Path) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec_pretty(self).expect("ledger serializes");
        write_atomically(top, &top.join(LEDGER_FILE), &bytes)
    }
}
