//! Import progress: a bar on a terminal, plain lines otherwise (logs, CI).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often plain-line progress is printed.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// What progress is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of the file consumed: for NDJSON resource files, whose record count is not known up
    /// front.
    Bytes,
    /// Records read, against the count a CCLF0 declares or one estimated from the file size
    /// (opt-outs).
    Records,
}

/// Progress through one file.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    unit: Unit,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    /// Starts reporting on `label` (a file name): `total` units, 0 if
    /// unknown. `quiet` suppresses all output (library use, tests).
    pub fn start(label: &str, total: u64, unit: Unit, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            let template = match (unit, total) {
                (_, 0) => "{msg:30!} {spinner} {pos} records {per_sec}",
                (Unit::Bytes, _) => {
                    "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
                }
                (Unit::Records, _) => {
                    "{msg:30!} [{bar:30}] {pos}/{len} records {per_sec} eta {eta}"
                }
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(label.to_owned());
            bar
        });
        Self {
            label: label.to_owned(),
            total,
            unit,
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
            quiet,
        }
    }

    /// Reports that `position` units are done.
    pub fn update(&mut self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        } else if !self.quiet && self.last_line.elapsed() >= PLAIN_INTERVAL {
            self.last_line = Instant::now();
            let unit = match self.unit {
                Unit::Bytes => "bytes",
                Unit::Records => "records",
            };
            match position.saturating_mul(100).checked_div(self.total) {
                Some(percent) => eprintln!(
                    "{}: {percent}% ({position} of {} {unit})",
                    self.label, self.total
                ),
                None => eprintln!("{}: {position} {unit}", self.label),
            }
        }
    }

    /// Ends the report. The caller prints the outcome; a file that took a
    /// while also gets its time and rate on plain-line output.
    pub fn finish(self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        } else if !self.quiet && self.started.elapsed() >= PLAIN_INTERVAL {
            eprintln!(
                "{}: {summary} in {:.1} s",
                self.label,
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Ends the report after a failure (the error is reported by the caller).
    pub fn abandon(self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}
