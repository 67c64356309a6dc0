//! What is refused before a run starts: traffic outside loopback without a
//! rate ceiling, a plan larger than memory, more sockets than the open-files
//! limit, more connections than the ephemeral ports. Each refusal is a
//! typed [`RunError`] naming the scenario and the numbers that decided.

use super::{limits, RunError, RunOptions};
use crate::safety::is_loopback;
use crate::scenario::schema::TargetKind;
use crate::scenario::{Scenario, Shard};

/// Why a remote target was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyRefusal {
    /// A target outside loopback without `--allow-remote`.
    #[error(transparent)]
    Remote(#[from] crate::safety::RemoteTarget),
    /// A remote target without `--max-rate`.
    #[error("a remote target needs --max-rate (attempts per second the scenario may not exceed)")]
    NoRateCeiling,
    /// The scenario's peak rate is above the ceiling.
    #[error("the scenario's peak arrival rate {peak}/s exceeds --max-rate {ceiling}/s (storms are refused for remote targets)")]
    AboveCeiling {
        /// Peak arrivals per second this process would run.
        peak: f64,
        /// `--max-rate`.
        ceiling: f64,
    },
}

/// Which limit of this machine or process a plan does not fit.
#[derive(Debug, thiserror::Error)]
pub enum CapacityLimit {
    /// Planning needs more than half the available memory.
    #[error("planning {devices} devices needs about {need_mib} MiB, more than half of the {available_mib} MiB available; use fewer devices or shards (--shard I/N) on several machines")]
    PlanMemory {
        /// Devices planned.
        devices: u64,
        /// Estimated need.
        need_mib: u64,
        /// MemAvailable.
        available_mib: u64,
    },
    /// More sockets than the open-files limit.
    #[error("this run may hold {need} sockets ({devices} devices{}), but the open-files limit is {soft} (hard {hard}); \
             run the endpoint in another process (`chainstorm serve` + an external target), use fewer devices, \
             or cap arrival.max_in_flight with no hold",
            if *.embedded { ", two sockets each with the embedded endpoint" } else { "" })]
    Sockets {
        /// Sockets the run may hold.
        need: u64,
        /// Devices this process runs.
        devices: u64,
        /// Whether the endpoint runs in the same process.
        embedded: bool,
        /// Open-files soft limit.
        soft: u64,
        /// Open-files hard limit.
        hard: u64,
    },
    /// More connections at once than source × destination ephemeral ports.
    #[error("up to {concurrent} connections at once, but {sources} source address(es) x {destinations} target(s) give {ports} ephemeral ports; \
             use more target addresses, fewer devices per process, or shards on several machines")]
    Ports {
        /// Connections open at once.
        concurrent: u64,
        /// Source addresses.
        sources: u64,
        /// Target addresses.
        destinations: u64,
        /// Ports they give.
        ports: u64,
    },
}

/// Checks a run id: 1 to 64 letters, digits, `-`, `_` or `.` (it names a
/// directory and travels in every shard's summary).
pub fn check_run_id(id: &str) -> Result<(), RunError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(RunError::BadOption {
            flag: "--run-id",
            value: id.to_string(),
            allowed: "1 to 64 letters, digits, '-', '_' or '.'",
        })
    }
}

/// Refuses traffic outside loopback unless allowed, and then demands a
/// rate ceiling the scenario's peak respects.
pub(super) fn check_policy(s: &Scenario, opts: &RunOptions) -> Result<(), RunError> {
    let refuse = |reason: PolicyRefusal| RunError::Policy {
        scenario: s.path.clone(),
        reason,
    };
    if s.target.kind != TargetKind::External {
        return Ok(());
    }
    for a in &s.target.addresses {
        crate::safety::check_target(*a, opts.allow_remote).map_err(|e| refuse(e.into()))?;
    }
    if s.target.addresses.iter().all(|a| is_loopback(a.ip())) {
        return Ok(());
    }
    // Allowed: then a rate ceiling is mandatory (the duration always is).
    let ceiling = opts
        .max_rate
        .ok_or_else(|| refuse(PolicyRefusal::NoRateCeiling))?;
    let peak = s.arrival.peak_rate() * Shard::share(opts.shard);
    if peak > ceiling {
        return Err(refuse(PolicyRefusal::AboveCeiling { peak, ceiling }));
    }
    Ok(())
}

/// Refuses, before planning, a plan that cannot fit in this machine's
/// available memory: the plan holds each device (and its client id) about
/// three times over while it is built, shuffled and handed to the scheduler.
pub(super) fn check_plan_memory(s: &Scenario) -> Result<(), RunError> {
    let devices = s.total_devices();
    let id_len = s
        .groups
        .iter()
        .map(|g| crate::scenario::render_client_id(&g.client_id, &g.name, u32::MAX).len())
        .max()
        .unwrap_or(0) as u64;
    let per_device = std::mem::size_of::<crate::scenario::DevicePlan>() as u64 + id_len + 16;
    let need = devices.saturating_mul(per_device).saturating_mul(3);
    let Some(avail) = limits::mem_available() else {
        return Ok(());
    };
    if need > avail / 2 {
        return Err(RunError::Capacity {
            scenario: s.path.clone(),
            limit: CapacityLimit::PlanMemory {
                devices,
                need_mib: need >> 20,
                available_mib: avail >> 20,
            },
        });
    }
    Ok(())
}

/// Refuses a plan that cannot fit the open-files limit or the ephemeral
/// ports; returns the sockets the run may hold.
pub(super) fn check_capacity(
    s: &Scenario,
    shard: Option<Shard>,
    nofile: (u64, u64),
) -> Result<u64, RunError> {
    let refuse = |limit: CapacityLimit| RunError::Capacity {
        scenario: s.path.clone(),
        limit,
    };
    // The devices this process will run (a shard holds only its slice),
    // known before planning.
    let total = s.total_devices();
    let devices = match shard {
        Some(sh) => total.div_ceil(u64::from(sh.count)),
        None => total,
    };
    let any_hold = s.groups.iter().any(|g| !g.hold.is_zero());
    let embedded = s.target.kind == TargetKind::Embedded;
    let need = limits::sockets_needed(devices, any_hold, s.arrival.max_in_flight, embedded);
    if need > nofile.0 {
        return Err(refuse(CapacityLimit::Sockets {
            need,
            devices,
            embedded,
            soft: nofile.0,
            hard: nofile.1,
        }));
    }
    // Ports: one (source, destination) pair has ~28,000 ephemeral ports
    // (32768-60999). Loopback targets rotate 16 source addresses; any other
    // target has this host's one address per destination.
    let loopback = embedded || s.target.addresses.iter().all(|a| is_loopback(a.ip()));
    let sources: u64 = if loopback { 16 } else { 1 };
    let destinations = s.target.addresses.len().max(1) as u64;
    let ports = limits::EPHEMERAL_PORTS * sources * destinations;
    let concurrent = if !any_hold && s.arrival.max_in_flight > 0 {
        s.arrival.max_in_flight.min(devices)
    } else {
        devices
    };
    if concurrent > ports {
        return Err(refuse(CapacityLimit::Ports {
            concurrent,
            sources,
            destinations,
            ports,
        }));
    }
    Ok(need)
}
