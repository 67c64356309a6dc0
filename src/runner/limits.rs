//! Process limits: the open-files soft limit raised to the hard limit, and
//! the up-front check that a scenario fits. `#![forbid(unsafe_code)]` rules
//! out calling setrlimit directly; the `rlimit` crate wraps it safely.

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns (soft, hard).
pub fn raise_nofile() -> (u64, u64) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    rlimit::Resource::NOFILE.get().unwrap_or((0, 0))
}

/// Grows this process's descriptor table to `n` entries now, before the
/// run's clock starts. The kernel grows the table by doubling as sockets
/// are opened, and in a multi-threaded process each growth waits for an RCU
/// grace period: `perf trace` showed the scheduler's `socket()` taking 8-16
/// ms at descriptors 512, 1,024, 2,048 and 4,096, each a scheduler-lag
/// spike. Duplicating a descriptor to number `n - 1` (and closing it) grows
/// the table once; it never shrinks. Best effort: on failure the table
/// grows as before.
pub fn reserve_fd_table(n: u64) {
    let Ok(top) = i32::try_from(n.saturating_sub(1)) else {
        return;
    };
    if top < 64 {
        return;
    }
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = rustix::io::fcntl_dupfd_cloexec(&null, top);
    }
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
