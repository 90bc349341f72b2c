//! A process's resident memory and CPU time, from `/proc/<pid>/status` and
//! `/proc/<pid>/stat` (Linux; elsewhere the bench reports no process figures).

use std::io;

/// `/proc/<pid>/stat` counts CPU time in clock ticks of `sysconf(_SC_CLK_TCK)`, which the
/// Linux user ABI fixes at 100 (USER_HZ) on every architecture Sluice builds for.
const CLOCK_TICKS_PER_S: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    /// User + system CPU time so far, in µs.
    pub cpu_us: u64,
    pub rss_bytes: u64,
    /// Peak resident set (VmHWM).
    pub rss_peak_bytes: u64,
}

/// Samples `pid` now (`None` reads this process).
pub fn sample(pid: Option<u32>) -> io::Result<ProcSample> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_string(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{dir}/{what}"));
    let ticks = cpu_ticks(&stat).ok_or_else(|| bad("stat"))?;
    Ok(ProcSample {
        cpu_us: ticks * (1_000_000 / CLOCK_TICKS_PER_S),
        rss_bytes: status_kib(&status, "VmRSS:").ok_or_else(|| bad("status"))? * 1024,
        rss_peak_bytes: status_kib(&status, "VmHWM:").ok_or_else(|| bad("status"))? * 1024,
    })
}

/// utime + stime (fields 14 and 15 of proc(5)'s `stat`). The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // `after_name` starts at field 3 (state): utime is field 14, 11 further on.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Name:   1234 kB` line of `status`, in KiB.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_an_awkward_command_name() {
        let stat = "4242 (sl uice) (x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 \
                    350 25 0 0 20 0 9 0 12345 123456789 2048 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(375));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_status() {
        let status = "Name:\tsluice\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(40960));
        assert_eq!(status_kib(status, "VmHWM:"), Some(51200));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn samples_this_process() {
        let s = sample(None).expect("/proc/self is readable on Linux");
        assert!(s.rss_bytes > 0 && s.rss_peak_bytes >= s.rss_bytes);
        assert!(sample(Some(u32::MAX)).is_err());
    }
}
