//! What the kernel says about this process and machine, read from `/proc`
//! (no libc: the crate forbids unsafe code).
//!
//! The benchmarked server runs inside this process, so these figures are the
//! server's (plus the benchmark client's small share).

/// Clock ticks per second of `/proc/self/stat` times. Linux fixes USER_HZ
/// at 100 for user space on every architecture it exports it on.
const USER_HZ: f64 = 100.0;

/// Peak resident set size (`VmHWM`) of this process, in MB (10^6 bytes);
/// `None` off Linux.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024.0 / 1e6)
}

/// Resets the peak RSS to the current RSS (writing `5` to
/// `/proc/self/clear_refs`), so a later [`peak_rss_mb`] covers only what
/// follows — not the data set generated and imported before. Returns
/// whether the kernel accepted it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time (user + system, all threads) this process has used, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after its closing
    // parenthesis are plain. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// The machine: CPU model (from `/proc/cpuinfo`) and usable cores.
pub fn machine() -> serde_json::Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    serde_json::json!({ "cpu_model": model, "cores": cores() })
}

/// Cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mb().is_some_and(|mb| mb > 0.0));
            assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
        }
        assert!(cores() >= 1);
    }
}
