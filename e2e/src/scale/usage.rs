//! A process's resource use as the kernel counts it: peak resident memory and CPU time.

use std::path::Path;
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

/// The control plane's processes, as `e2e/cluster` names their pid files: the API server, its
/// store, and the controllers that turn an applied Deployment into Available pods.
const CONTROL_PLANE: [&str; 5] = [
    "kube-apiserver",
    "etcd",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// CPU time the control plane spent, split where a tool's requests cost it: serving them (the
/// API server and etcd) or acting on what they wrote (the controllers, scheduler and kwok).
/// Every tool shares the same 2 cores with these, so their CPU is where a tool's extra requests
/// show as extra time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ControlPlaneCpu {
    pub api_server: Duration,
    pub etcd: Duration,
    pub controllers: Duration,
}

impl ControlPlaneCpu {
    /// The CPU time the control plane's processes in `state_dir/pids` have used so far.
    pub fn now(state_dir: &Path) -> Result<Self> {
        let mut spent = ControlPlaneCpu::default();
        for name in CONTROL_PLANE {
            let pid_file = state_dir.join("pids").join(name);
            let line = read(&pid_file.to_string_lossy())?;
            let pid: u32 = line
                .split_whitespace()
                .next()
                .and_then(|pid| pid.parse().ok())
                .ok_or_else(|| {
                    E2eError::Unavailable(format!("no pid in {}", pid_file.display()))
                })?;
            let cpu = Usage::of(pid)?.cpu;
            match name {
                "kube-apiserver" => spent.api_server += cpu,
                "etcd" => spent.etcd += cpu,
                _ => spent.controllers += cpu,
            }
        }
        Ok(spent)
    }

    /// What was spent since `earlier`.
    pub fn since(self, earlier: ControlPlaneCpu) -> ControlPlaneCpu {
        ControlPlaneCpu {
            api_server: self.api_server.saturating_sub(earlier.api_server),
            etcd: self.etcd.saturating_sub(earlier.etcd),
            controllers: self.controllers.saturating_sub(earlier.controllers),
        }
    }

    /// `API server 41.2 s, etcd 9.8 s, controllers 30.1 s`.
    pub fn summary(&self) -> String {
        format!(
            "API server {:.1} s, etcd {:.1} s, controllers {:.1} s",
            self.api_server.as_secs_f64(),
            self.etcd.as_secs_f64(),
            self.controllers.as_secs_f64()
        )
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

    #[test]
    fn control_plane_cpu_is_counted_per_part_and_since_an_earlier_reading() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pids")).unwrap();
        // This process stands in for every part of the control plane.
        for name in CONTROL_PLANE {
            let line = format!("{} 12345\n", std::process::id());
            std::fs::write(dir.path().join("pids").join(name), line).unwrap();
        }
        let before = ControlPlaneCpu::now(dir.path()).unwrap();
        let mut spin = 0u64;
        for step in 0..50_000_000u64 {
            spin = spin.wrapping_add(step * step);
        }
        std::hint::black_box(spin);
        let after = ControlPlaneCpu::now(dir.path()).unwrap();
        // Read in order, API server first: the three controllers' readings come later.
        assert!(after.controllers >= after.api_server * 3, "{after:?}");
        let spent = after.since(before);
        assert!(spent.api_server > Duration::ZERO, "{spent:?}");
        assert!(spent.api_server <= after.api_server, "{spent:?}");
        assert_eq!(after.since(after), ControlPlaneCpu::default());
        assert!(
            spent.summary().starts_with("API server "),
            "{}",
            spent.summary()
        );
        std::fs::remove_file(dir.path().join("pids").join("etcd")).unwrap();
        assert!(ControlPlaneCpu::now(dir.path()).is_err());
    }
}
