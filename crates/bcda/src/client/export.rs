//! One export into one directory: kick off (or follow the job a 429 points
//! to), poll, then download every file of the manifest over a few parallel
//! connections. The state file makes every step resumable: a second run in
//! the same directory, or `bcda client resume DIR`, picks up where the last
//! one stopped and does not fetch again what is complete.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::ClientError;
use super::download::{self, Record, Saved};
use super::kickoff;
use super::manifest::{Cohort, Manifest};
use super::poll::{self, JobEnd};
use super::progress::Reporter;
use super::request::ExportRequest;
use super::session::{Auth, Session, server_message};
use super::state::{
    Encoding, ExportState, FileState, MANIFEST_FILE, now_rfc3339, write_atomically,
};

/// The folder that keeps a Group/all `_since` export's files of newly
/// attributed beneficiaries (their full history) apart from the changes.
pub const NEW_BENEFICIARIES_DIR: &str = "new-beneficiaries";

/// How an export run downloads.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Where the files, the manifest and the state go.
    pub dir: PathBuf,
    /// Keep files as `.ndjson.gz` instead of inflating them.
    pub keep_gzip: bool,
    /// Files downloaded at once.
    pub connections: usize,
}

/// What a finished export holds.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The directory.
    pub dir: PathBuf,
    /// The job's status URL.
    pub job_url: String,
    /// The manifest's `transactionTime`: the next `_since`.
    pub transaction_time: String,
    /// Files (data and error) in the manifest.
    pub files: usize,
    /// Files downloaded by this run (the rest were already here).
    pub downloaded: usize,
    /// Resources in the data files.
    pub resources: u64,
    /// Bytes saved on disk.
    pub saved_bytes: u64,
    /// Bytes received over the network by this run.
    pub received_bytes: u64,
    /// How long this run's downloads (and their checks) took.
    pub download_time: std::time::Duration,
}

/// Starts an export of `request` into `options.dir`, or continues the one
/// already there when it is the same request; a directory holding another
/// export is refused.
pub async fn export(
    session: Arc<Session>,
    request: &ExportRequest,
    options: &ExportOptions,
    reporter: &Reporter,
) -> Result<Finished, ClientError> {
    let dir = &options.dir;
    std::fs::create_dir_all(dir).map_err(|e| ClientError::disk("create", dir, &e, dir))?;
    let server = session.settings().base_url.to_string();
    let client_id = session.settings().client_id.clone();
    let state = match ExportState::load(dir)? {
        Some(state) => {
            if state.server != server
                || state.request != *request
                || state.keep_gzip != options.keep_gzip
            {
                return Err(ClientError::Usage(format!(
                    "{} already holds another export ({} from {}{}); choose another --out, or \
                     run `bcda client resume {}` to finish that one",
                    dir.display(),
                    state.request,
                    state.server,
                    if state.keep_gzip { ", gzip kept" } else { "" },
                    dir.display()
                )));
            }
            if state.client_id != client_id {
                reporter.note(&format!(
                    "continuing the export started by client id {} in {}",
                    state.client_id,
                    dir.display()
                ));
            }
            state
        }
        None => {
            let state = ExportState::new(&server, &client_id, request.clone(), options.keep_gzip);
            state.save(dir)?;
            state
        }
    };
    run(session, state, options, reporter).await
}

/// Reads the state of the export in `dir` (for `resume`, which needs its
/// server and client id before it can open a session).
pub fn state_of(dir: &Path) -> Result<ExportState, ClientError> {
    ExportState::load(dir)?.ok_or_else(|| {
        ClientError::Usage(format!(
            "{} holds no bcda client export (no {}); start one with `bcda client export --out {}`",
            dir.display(),
            super::state::STATE_FILE,
            dir.display()
        ))
    })
}

/// Continues the export in `options.dir` where it stopped.
pub async fn resume(
    session: Arc<Session>,
    options: &ExportOptions,
    reporter: &Reporter,
) -> Result<Finished, ClientError> {
    let state = state_of(&options.dir)?;
    let options = ExportOptions {
        keep_gzip: state.keep_gzip,
        ..options.clone()
    };
    run(session, state, &options, reporter).await
}

/// Cancels the job on the server (`DELETE` its status URL).
pub async fn cancel(session: &Session, job_url: &str) -> Result<(), ClientError> {
    let response = session
        .send("cancelling the job", Auth::Bearer, |http| {
            http.delete(job_url)
        })
        .await?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let message = server_message(response).await;
    Err(ClientError::Job(format!(
        "cancelling job {} failed ({status}: {message})",
        poll::job_label(job_url)
    )))
}

/// The shared state of a running export, saved as it changes.
struct Shared {
    dir: PathBuf,
    state: Mutex<ExportState>,
}

impl Shared {
    fn update<T>(&self, change: impl FnOnce(&mut ExportState) -> T) -> Result<T, ClientError> {
        let mut state = self.state.lock().expect("state lock");
        let out = change(&mut state);
        state.save(&self.dir)?;
        Ok(out)
    }

    fn snapshot(&self) -> ExportState {
        self.state.lock().expect("state lock").clone()
    }
}

impl Record for Shared {
    fn started(&self, name: &str, etag: Option<String>, encoding: Encoding) {
        // A failed save here only costs a restart from byte 0 later.
        let _ = self.update(|state| {
            if let Some(file) = state.files.iter_mut().find(|f| f.name == name) {
                file.etag = etag;
                file.encoding = Some(encoding);
            }
        });
    }
}

async fn run(
    session: Arc<Session>,
    state: ExportState,
    options: &ExportOptions,
    reporter: &Reporter,
) -> Result<Finished, ClientError> {
    let dir = options.dir.clone();
    let shared = Arc::new(Shared {
        dir: dir.clone(),
        state: Mutex::new(state),
    });
    let snapshot = shared.snapshot();
    if snapshot.completed_at.is_some() {
        reporter.note(&format!(
            "{} already holds this export, complete and verified; nothing to download",
            dir.display()
        ));
        return Ok(finished(&snapshot, &dir, 0, 0));
    }
    let job_url = match snapshot.job_url.clone() {
        Some(job_url) => job_url,
        None => {
            let job_url = kickoff::kick_off(&session, &snapshot.request, reporter).await?;
            reporter.note(&format!(
                "export started: job {} ({})",
                poll::job_label(&job_url),
                snapshot.request
            ));
            shared.update(|s| s.job_url = Some(job_url.clone()))?;
            job_url
        }
    };
    if snapshot.transaction_time.is_none() {
        match poll::wait(&session, &job_url, reporter).await? {
            JobEnd::Completed { manifest, raw } => {
                write_atomically(&dir, &dir.join(MANIFEST_FILE), &raw)?;
                let files = files_of(&manifest);
                reporter.note(&format!(
                    "job {} completed: {} files (transactionTime {})",
                    poll::job_label(&job_url),
                    files.len(),
                    manifest.transaction_time
                ));
                shared.update(|s| {
                    s.transaction_time = Some(manifest.transaction_time.clone());
                    s.requires_access_token = manifest.requires_access_token;
                    s.files = files;
                })?;
            }
            JobEnd::Ended { status, message } => {
                return Err(poll::ended_error(&job_url, status, &message));
            }
        }
    }
    let started = std::time::Instant::now();
    let downloaded = download_all(&session, &shared, options, reporter).await?;
    let state = shared.update(|s| {
        s.completed_at = Some(now_rfc3339());
        s.clone()
    })?;
    Ok(Finished {
        download_time: started.elapsed(),
        ..finished(&state, &dir, downloaded, reporter.bytes())
    })
}

/// The manifest's files as the state records them: data files first,
/// newly attributed beneficiaries' files in their own folder.
fn files_of(manifest: &Manifest) -> Vec<FileState> {
    let entries = manifest
        .output
        .iter()
        .map(|f| (f, false))
        .chain(manifest.error.iter().map(|f| (f, true)));
    let mut taken = std::collections::HashSet::new();
    entries
        .enumerate()
        .map(|(index, (file, error_file))| {
            let cohort = file.cohort();
            let mut name = file.file_name(index);
            if !taken.insert(name.clone()) {
                name = format!("{}-{}.ndjson", name.trim_end_matches(".ndjson"), index + 1);
                taken.insert(name.clone());
            }
            if cohort == Some(Cohort::New) {
                name = format!("{NEW_BENEFICIARIES_DIR}/{name}");
            }
            FileState {
                name,
                url: file.url.clone(),
                resource_type: file.resource_type.clone(),
                error_file,
                expected: file.expected(),
                cohort,
                etag: None,
                encoding: None,
                saved_as: None,
                resources: None,
                saved_bytes: None,
            }
        })
        .collect()
}

/// Downloads every file not yet saved, `connections` at a time. A file
/// that fails verification twice does not stop the others; the run then
/// fails naming it. Any other failure stops the run (resumable).
async fn download_all(
    session: &Arc<Session>,
    shared: &Arc<Shared>,
    options: &ExportOptions,
    reporter: &Reporter,
) -> Result<usize, ClientError> {
    let state = shared.snapshot();
    let pending: Vec<FileState> = state
        .files
        .iter()
        .filter(|f| !f.is_done())
        .cloned()
        .collect();
    reporter.downloads(state.files.len(), state.files.len() - pending.len());
    let auth = if state.requires_access_token {
        Auth::Bearer
    } else {
        Auth::None
    };
    let mut queue = pending.into_iter();
    let mut running = JoinSet::new();
    let mut rejected: Vec<ClientError> = Vec::new();
    let mut downloaded = 0;
    let spawn = |running: &mut JoinSet<_>, file: FileState| {
        let (session, shared, reporter) = (session.clone(), shared.clone(), reporter.clone());
        let (dir, keep_gzip) = (options.dir.clone(), options.keep_gzip);
        running.spawn(async move {
            let saved =
                download::download(&session, &dir, &file, auth, keep_gzip, &reporter, &*shared)
                    .await;
            (file, saved)
        });
    };
    for file in queue.by_ref().take(options.connections.max(1)) {
        spawn(&mut running, file);
    }
    while let Some(joined) = running.join_next().await {
        let (file, saved) = joined
            .map_err(|e| ClientError::Disk(format!("a download stopped unexpectedly: {e}")))?;
        match saved {
            Ok(saved) => {
                record_saved(shared, &file, &saved)?;
                reporter.saved(&download::saved_line(&file, &saved));
                downloaded += 1;
            }
            Err(e @ ClientError::Verification(_)) => {
                reporter.note(&format!("error: {e}"));
                rejected.push(e);
            }
            Err(e) => {
                running.shutdown().await;
                reporter.finish();
                return Err(e);
            }
        }
        if let Some(next) = queue.next() {
            spawn(&mut running, next);
        }
    }
    reporter.finish();
    match rejected.len() {
        0 => Ok(downloaded),
        1 => Err(rejected.remove(0)),
        n => Err(ClientError::Verification(format!(
            "{n} files did not match the manifest (each is named above); run the command again \
             to retry them"
        ))),
    }
}

fn record_saved(shared: &Shared, file: &FileState, saved: &Saved) -> Result<(), ClientError> {
    shared.update(|state| {
        if let Some(entry) = state.files.iter_mut().find(|f| f.name == file.name) {
            entry.saved_as = Some(saved.saved_as.clone());
            entry.resources = Some(saved.facts.count);
            entry.saved_bytes = Some(saved.saved_bytes);
        }
    })
}

fn finished(state: &ExportState, dir: &Path, downloaded: usize, received: u64) -> Finished {
    Finished {
        dir: dir.to_owned(),
        job_url: state.job_url.clone().unwrap_or_default(),
        transaction_time: state.transaction_time.clone().unwrap_or_default(),
        files: state.files.len(),
        downloaded,
        resources: state
            .files
            .iter()
            .filter(|f| !f.error_file)
            .filter_map(|f| f.resources)
            .sum(),
        saved_bytes: state.files.iter().filter_map(|f| f.saved_bytes).sum(),
        received_bytes: received,
        download_time: std::time::Duration::ZERO,
    }
}
