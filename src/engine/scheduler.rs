//! The open-loop scheduler: a plain thread that hands each device to a
//! worker at its intended start, whatever happened to the previous ones,
//! and starts its first connect then (unless an in-flight cap makes the
//! device wait for a slot first).
//!
//! A plain thread with std sleeps, because tokio's timer rounds up to
//! whole milliseconds (that showed as ~1.3 ms of lag). It asks for a
//! real-time policy (SCHED_FIFO): on two busy cores a normal thread woke
//! up to several milliseconds late behind the workers it feeds, and its
//! own work is a few system calls per device.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use super::dialer::Started;
use super::shared::Shared;
use super::worker::Arrival;
use crate::scenario::DevicePlan;

/// Longest sleep, so a stop or a pause is noticed promptly.
const SLICE: Duration = Duration::from_millis(20);

/// What the scheduler needs.
pub(crate) struct Pacing {
    /// The plan's devices in arrival order.
    pub devices: Vec<DevicePlan>,
    /// The run's start (arrival offsets count from here).
    pub start: Instant,
    /// One channel per worker; devices are dealt round robin.
    pub senders: Vec<UnboundedSender<Arrival>>,
    pub shared: Arc<Shared>,
    pub stop: Arc<AtomicBool>,
    pub paused: Arc<AtomicBool>,
}

/// Starts the scheduler thread.
pub(crate) fn spawn(p: Pacing) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("chainstorm-scheduler".into())
        .spawn(move || {
            let _ = raise_priority();
            run(p)
        })
}

/// SCHED_FIFO at a middle priority; needs CAP_SYS_NICE (root, or a
/// container granted it). Without it the thread keeps the normal policy.
fn raise_priority() -> bool {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let Ok(value) = ThreadPriorityValue::try_from(50u8) else {
        return false;
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .is_ok()
}

fn run(p: Pacing) {
    // With a cap a device waits for its slot before it dials.
    let predial = p.shared.in_flight.is_none();
    let mut pause_shift = Duration::ZERO;
    for (i, mut d) in p.devices.into_iter().enumerate() {
        loop {
            if p.stop.load(Relaxed) {
                return;
            }
            if p.paused.load(Relaxed) {
                std::thread::sleep(SLICE);
                pause_shift += SLICE;
                continue;
            }
            let at = p.start + d.arrival + pause_shift;
            let now = Instant::now();
            if now >= at {
                break;
            }
            std::thread::sleep((at - now).min(SLICE));
        }
        d.arrival += pause_shift;
        // The SYN leaves now, on time, whatever the worker is busy with.
        let started = predial.then(|| Started {
            sock: p.shared.dialer.start(),
            at: Instant::now(),
        });
        let arrival = Arrival { plan: d, started };
        if p.senders[i % p.senders.len()].send(arrival).is_err() {
            return;
        }
    }
}
