//! The process's own resource use, read from `/proc/self` at scrape time (Linux; elsewhere
//! these metrics are left out rather than reported as zero).

/// Resident memory, open file descriptors and threads of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub threads: Option<u64>,
}

/// Reads this process's stats; each is `None` where `/proc` does not tell it.
pub fn read() -> ProcessStats {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    ProcessStats {
        resident_bytes: status_kib(&status, "VmRSS:").map(|kib| kib * 1024),
        threads: status_kib(&status, "Threads:"),
        // Counting `/proc/self/fd` also counts the directory handle doing the counting.
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| (dir.count() as u64).saturating_sub(1)),
    }
}

/// The number on the `key` line of `/proc/<pid>/status` (`VmRSS:   1234 kB`, `Threads: 9`).
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let status = "Name:\tsluice\nVmRSS:\t   2048 kB\nThreads:\t12\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(2048));
        assert_eq!(status_kib(status, "Threads:"), Some(12));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let stats = read();
        assert!(stats.resident_bytes.unwrap_or(0) > 0);
        assert!(stats.threads.unwrap_or(0) >= 1);
        // stdin, stdout and stderr at least.
        assert!(stats.open_fds.unwrap_or(0) >= 3);
    }
}
