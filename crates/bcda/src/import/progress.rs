//! Import progress: a bar on a terminal, plain lines otherwise (logs, CI).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often plain-line progress is printed.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// Progress through one file, by bytes.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    /// Starts reporting on `label` (a file name) of `total` bytes. `quiet`
    /// suppresses all output (library use, tests).
    pub fn start(label: &str, total: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(label.to_owned());
            bar
        });
        Self {
            label: label.to_owned(),
            total,
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
            quiet,
        }
    }

    /// Reports that `position` bytes have been read.
    pub fn update(&mut self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        } else if !self.quiet && self.last_line.elapsed() >= PLAIN_INTERVAL {
            self.last_line = Instant::now();
            let percent = position.saturating_mul(100).checked_div(self.total).unwrap_or(100);
            eprintln!("{}: {percent}% ({position} of {} bytes)", self.label, self.total);
        }
    }

    /// Ends the report with a summary line.
    pub fn finish(self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.quiet {
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
