//! A process's resource use as the kernel counts it: peak resident memory and CPU time.

use std::time::Duration;

use crate::error::{E2eError, Result};

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times: 100 on every Linux architecture
/// this runs on (the kernel's USER_HZ).
const TICKS_PER_SECOND: u64 = 100;

/// What a process used from its start until the moment it was read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Peak resident set size (VmHWM), in KiB.
    pub peak_rss_kib: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
}

impl Usage {
    /// Reads the usage of the live process `pid`.
    pub fn of(pid: u32) -> Result<Self> {
        let status = read(&format!("/proc/{pid}/status"))?;
        let peak_rss_kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| unreadable(pid, "VmHWM in its status"))?;
        let stat = read(&format!("/proc/{pid}/stat"))?;
        // The fields after the command name, which may hold spaces, count from its ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |index: usize| -> Result<u64> {
            fields
                .get(index)
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| unreadable(pid, "its CPU times"))
        };
        // utime and stime are fields 14 and 15 of stat, the 12th and 13th after the name.
        let total = ticks(11)? + ticks(12)?;
        Ok(Usage {
            peak_rss_kib,
            cpu: Duration::from_millis(total * 1000 / TICKS_PER_SECOND),
        })
    }
}

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| E2eError::Io {
        path: path.into(),
        source,
    })
}

fn unreadable(pid: u32, what: &str) -> E2eError {
    E2eError::Unavailable(format!("could not read {what} from /proc/{pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_memory_and_time() {
        let mut spin = 0u64;
        for step in 0..5_000_000u64 {
            spin = spin.wrapping_add(step * step);
        }
        std::hint::black_box(spin);
        let usage = Usage::of(std::process::id()).unwrap();
        assert!(usage.peak_rss_kib > 1024, "{usage:?}");
        assert!(usage.cpu > Duration::ZERO, "{usage:?}");
    }
}
