//! Running `bcda` itself as a child process, as an operator would run it,
//! and reading back the child's peak RSS.
//!
//! The stored source's files are written (`bcda synthetic`) and imported
//! (`bcda import ...`) by children, so their memory never counts in the
//! benchmark process, which runs the server: its peak RSS is the export's.
//! A child started with [`PEAK_RSS_ENV`] set prints its own peak RSS as the
//! last line of its stdout ([`print_peak_rss_if_asked`], called by the
//! command line on success), which the parent parses.

use std::ffi::OsString;
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Set in a `bcda` child's environment (to any value) to have it print
/// [`PEAK_RSS_PREFIX`] and its peak RSS in MB on stdout when it succeeds.
pub const PEAK_RSS_ENV: &str = "BCDA_REPORT_PEAK_RSS";

/// The start of the line a child prints its peak RSS on.
pub const PEAK_RSS_PREFIX: &str = "bcda-peak-rss-mb: ";

/// Prints this process's peak RSS (`VmHWM`) on stdout when
/// [`PEAK_RSS_ENV`] is set; the command line calls it once a command
/// succeeds.
pub fn print_peak_rss_if_asked() {
    if std::env::var_os(PEAK_RSS_ENV).is_some()
        && let Some(mb) = super::proc_stats::peak_rss_mb()
    {
        println!("{PEAK_RSS_PREFIX}{mb:.3}");
    }
}

/// The database a child reaches: the SQLite file of its data directory, or
/// a PostgreSQL URL (a benchmark schema's, through its `search_path`).
#[derive(Debug, Clone)]
pub enum ChildDatabase {
    /// `bcda.db` in the data directory (`DATABASE_URL` is removed from the
    /// child's environment, so a PostgreSQL one set for other commands
    /// does not leak in).
    Sqlite,
    /// `DATABASE_URL` set to this URL.
    Postgres(String),
}

/// What one child run took.
#[derive(Debug, Clone, Copy)]
pub struct ChildRun {
    /// Wall time from spawning to exit.
    pub elapsed: Duration,
    /// The child's own peak RSS, MB, when it reported one.
    pub peak_rss_mb: Option<f64>,
}

/// Runs `bcda <args>` with `data_dir` as its data directory and `database`,
/// its stdout (one progress line per item) copied to this process's stderr
/// under `label` (stdout is the benchmark's JSON only), its stderr
/// inherited. Fails when the child does.
pub async fn run_bcda(
    bcda: &Path,
    data_dir: &Path,
    database: &ChildDatabase,
    label: &'static str,
    args: Vec<OsString>,
) -> anyhow::Result<ChildRun> {
    let mut command = Command::new(bcda);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(&args)
        .env(PEAK_RSS_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    match database {
        ChildDatabase::Sqlite => command.env_remove("DATABASE_URL"),
        ChildDatabase::Postgres(url) => command.env("DATABASE_URL", url),
    };
    let program = bcda.to_owned();
    tokio::task::spawn_blocking(move || run_blocking(command, &program, label)).await?
}

fn run_blocking(mut command: Command, program: &Path, label: &str) -> anyhow::Result<ChildRun> {
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    let mut peak_rss_mb = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.context("reading the child's output")?;
            match parse_peak_rss(&line) {
                Some(mb) => peak_rss_mb = Some(mb),
                None => eprintln!("bench: [{label}] {line}"),
            }
        }
    }
    let status = child.wait()?;
    let elapsed = started.elapsed();
    if !status.success() {
        anyhow::bail!("`{label}` failed ({status}); its errors are above");
    }
    Ok(ChildRun {
        elapsed,
        peak_rss_mb,
    })
}

/// The MB of a [`PEAK_RSS_PREFIX`] line.
fn parse_peak_rss(line: &str) -> Option<f64> {
    line.strip_prefix(PEAK_RSS_PREFIX)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_line_parses_and_nothing_else_does() {
        assert_eq!(parse_peak_rss("bcda-peak-rss-mb: 12.5"), Some(12.5));
        assert_eq!(parse_peak_rss("bcda-peak-rss-mb: x"), None);
        assert_eq!(parse_peak_rss("a.ndjson: imported 3 records"), None);
    }
}
