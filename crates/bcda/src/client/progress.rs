//! What the user sees while a run goes on: progress bars on a terminal
//! (indicatif), plain lines when the output is a file or a pipe (cron
//! mails, CI logs), nothing but errors with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Live bars on stderr.
    Bars,
    /// One line per event on stderr.
    Lines,
    /// Nothing.
    Quiet,
}

impl Display {
    /// Bars when stderr is a terminal, else lines; nothing when `quiet`.
    pub fn detect(quiet: bool) -> Display {
        if quiet {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            Display::Bars
        } else {
            Display::Lines
        }
    }
}

/// Shows a run's progress.
#[derive(Clone)]
pub struct Reporter {
    display: Display,
    multi: MultiProgress,
    inner: Arc<Totals>,
}

/// Download totals shared by every file's progress.
struct Totals {
    started: std::sync::Mutex<Instant>,
    bytes: AtomicU64,
    overall: std::sync::Mutex<Option<ProgressBar>>,
    last_line: std::sync::Mutex<Option<(String, Instant)>>,
}

/// Lines mode repeats an unchanged polling line this often.
const LINE_REPEAT: Duration = Duration::from_secs(30);

impl Reporter {
    /// A reporter showing progress as `display` says.
    pub fn new(display: Display) -> Reporter {
        let multi = MultiProgress::with_draw_target(match display {
            Display::Bars => ProgressDrawTarget::stderr_with_hz(8),
            Display::Lines | Display::Quiet => ProgressDrawTarget::hidden(),
        });
        Reporter {
            display,
            multi,
            inner: Arc::new(Totals {
                started: std::sync::Mutex::new(Instant::now()),
                bytes: AtomicU64::new(0),
                overall: std::sync::Mutex::new(None),
                last_line: std::sync::Mutex::new(None),
            }),
        }
    }

    /// A message (above the bars on a terminal); not shown when quiet.
    pub fn note(&self, message: &str) {
        match self.display {
            Display::Bars => {
                let _ = self.multi.println(message);
            }
            Display::Lines => eprintln!("{message}"),
            Display::Quiet => {}
        }
    }

    /// A live line while the job runs: `job 42: In Progress (40%) · 35s
    /// elapsed` (the bar ticks the elapsed time between polls).
    pub fn polling(&self, spinner: &ProgressBar, job: &str, progress: &str, since: Instant) {
        match self.display {
            Display::Bars => spinner.set_message(format!("job {job}: {progress}")),
            Display::Lines => {
                let mut last = self.inner.last_line.lock().expect("lock");
                let due = last
                    .as_ref()
                    .is_none_or(|(text, at)| *text != progress || at.elapsed() >= LINE_REPEAT);
                if due {
                    eprintln!("job {job}: {progress} · {} elapsed", clock(since.elapsed()));
                    *last = Some((progress.to_owned(), Instant::now()));
                }
            }
            Display::Quiet => {}
        }
    }

    /// A spinner for the polling line (hidden unless bars are shown).
    pub fn spinner(&self) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} · {elapsed} elapsed").expect("template"),
        );
        if self.display == Display::Bars {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar
    }

    /// Starts the downloads: `total` files of which `done` are already here.
    pub fn downloads(&self, total: usize, done: usize) {
        let bar = self.multi.add(ProgressBar::new(total as u64));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} files · {msg} · ETA {eta}",
            )
            .expect("template")
            .progress_chars("=> "),
        );
        bar.set_prefix("downloading");
        bar.set_position(done as u64);
        bar.set_message("0 B");
        // The rate counts from here, not from the kick-off.
        *self.inner.started.lock().expect("lock") = Instant::now();
        *self.inner.overall.lock().expect("lock") = Some(bar);
        if done > 0 {
            self.note(&format!(
                "{done} of {total} files are already here and verified"
            ));
        }
    }

    /// One file's progress: `start` bytes already on disk, `length` the
    /// total when known.
    pub fn file(&self, name: &str, start: u64, length: Option<u64>) -> FileProgress {
        let bar = match length {
            Some(length) => ProgressBar::new(length),
            None => ProgressBar::no_length(),
        };
        let bar = self.multi.add(bar);
        bar.set_style(
            ProgressStyle::with_template(
                "  {msg:40!} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} {eta:>4}",
            )
            .expect("template"),
        );
        bar.set_message(name.to_owned());
        bar.set_position(start);
        FileProgress {
            bar,
            reporter: self.clone(),
        }
    }

    /// A file was saved: counts it, and in lines mode says so.
    pub fn saved(&self, line: &str) {
        if let Some(bar) = self.inner.overall.lock().expect("lock").as_ref() {
            bar.inc(1);
            if self.display == Display::Lines {
                eprintln!(
                    "[{}/{}] {line} · {}",
                    bar.position(),
                    bar.length().unwrap_or(0),
                    self.rate()
                );
            }
        }
    }

    /// Clears the bars (at the end, or before an error is printed).
    pub fn finish(&self) {
        if let Some(bar) = self.inner.overall.lock().expect("lock").take() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }

    /// Bytes received so far and the average rate: `310.2 MB at 45.1 MB/s`.
    pub fn rate(&self) -> String {
        let bytes = self.inner.bytes.load(Ordering::Relaxed);
        let seconds = self
            .inner
            .started
            .lock()
            .expect("lock")
            .elapsed()
            .as_secs_f64()
            .max(0.001);
        format!(
            "{} at {}/s",
            human_bytes(bytes),
            human_bytes((bytes as f64 / seconds) as u64)
        )
    }

    /// Bytes received in this run.
    pub fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    fn add_bytes(&self, n: u64) {
        let total = self.inner.bytes.fetch_add(n, Ordering::Relaxed) + n;
        // The overall bar's message is rewritten at most every 64 KiB.
        if (total - n) >> 16 != total >> 16
            && let Some(bar) = self.inner.overall.lock().expect("lock").as_ref()
        {
            bar.set_message(self.rate());
        }
    }
}

/// One file's bar.
pub struct FileProgress {
    bar: ProgressBar,
    reporter: Reporter,
}

impl FileProgress {
    /// `n` more bytes arrived.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.reporter.add_bytes(n);
    }

    /// A (re)started response: `start` bytes on disk, `length` in all.
    pub fn restart(&self, start: u64, length: Option<u64>) {
        match length {
            Some(length) => self.bar.set_length(length),
            None => self.bar.unset_length(),
        }
        self.bar.set_position(start);
    }
}

impl Drop for FileProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        self.reporter.multi.remove(&self.bar);
    }
}

/// `1 resource`, `2,055 resources`.
pub fn count(n: u64, noun: &str) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n == 1 {
        format!("{grouped} {noun}")
    } else {
        format!("{grouped} {noun}s")
    }
}

/// `m:ss` or `h:mm:ss`.
pub fn clock(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Bytes in decimal units: `512 B`, `26.1 MB`, `1.31 GB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(clock(Duration::from_secs(35)), "0:35");
        assert_eq!(clock(Duration::from_secs(3_725)), "1:02:05");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(26_100_000), "26.1 MB");
        assert_eq!(human_bytes(310_000_000), "310 MB");
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(2_055, "resource"), "2,055 resources");
        assert_eq!(count(1_234_567, "resource"), "1,234,567 resources");
    }
}
