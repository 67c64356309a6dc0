//! Process limits: the open-files soft limit raised to the hard limit.
//! `#![forbid(unsafe_code)]` rules out calling setrlimit directly; the
//! `rlimit` crate wraps it safely.

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns (soft, hard).
pub fn raise_nofile() -> (u64, u64) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => (
            soft,
            rlimit::Resource::NOFILE
                .get()
                .map(|(_, h)| h)
                .unwrap_or(soft),
        ),
        Err(_) => rlimit::Resource::NOFILE.get().unwrap_or((0, 0)),
    }
}
