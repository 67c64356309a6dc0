//! Process limits: the open-files soft limit raised to the hard limit, and
//! the up-front check that a scenario fits. `#![forbid(unsafe_code)]` rules
//! out calling setrlimit directly; the `rlimit` crate wraps it safely.

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns (soft, hard).
pub fn raise_nofile() -> (u64, u64) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    rlimit::Resource::NOFILE.get().unwrap_or((0, 0))
}

/// Sockets a run can hold at once: every device may be connected at the
/// same time when it holds; otherwise the in-flight cap (or every device
/// for a storm) bounds it. An embedded target holds both ends.
pub fn sockets_needed(devices: u64, any_hold: bool, max_in_flight: u64, embedded: bool) -> u64 {
    let concurrent = if any_hold || max_in_flight == 0 {
        devices
    } else {
        devices.min(max_in_flight)
    };
    concurrent * if embedded { 2 } else { 1 } + 64
}

/// `MemAvailable` from /proc/meminfo, bytes (`None` off Linux).
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Ephemeral ports per (source, destination) pair: 32768-60999.
pub const EPHEMERAL_PORTS: u64 = 60_999 - 32_768 + 1;
