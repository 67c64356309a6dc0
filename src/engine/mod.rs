//! The load engine: an open-loop scheduler feeding device sessions to
//! worker threads, per-worker recording merged each tick into snapshots.
//!
//! The engine talks to an endpoint only over sockets; it never imports the
//! `endpoint` module, even when the endpoint runs in the same process.

mod device;
mod dialer;
mod scheduler;
mod shared;
mod worker;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use dialer::{loopback_sources, Dialer};
pub use shared::RunInputs;

use crate::metrics::{Aggregate, IntervalData, RunState, Snapshot};

/// How long after the drain deadline the engine stops waiting for workers.
pub const GIVE_UP_AFTER_DRAIN: Duration = Duration::from_secs(3);

/// Errors of the engine layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A TLS configuration could not be built.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// A trust profile could not be resolved.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// Minting device certificates failed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// A client certificate or key file that cannot be read.
    #[error("{}: {message}", .path.display())]
    ClientIdentity {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A server name a device would send that is not a DNS name or IP address.
    #[error("{0:?} is not a valid server name (DNS name or IP address)")]
    ServerName(String),
    /// Worker threads could not start.
    #[error("starting worker threads: {0}")]
    Threads(std::io::Error),
    /// The accounting identity failed: a bug, reported loudly.
    #[error("accounting identity violated: {0}")]
    Accounting(String),
}

/// One tick, as observers see it.
pub struct Tick<'a> {
    /// Seconds since start.
    pub elapsed_s: f64,
    /// Everything recorded in this interval (all workers merged).
    pub interval: &'a IntervalData,
    /// The snapshot built from it.
    pub snapshot: &'a Snapshot,
    /// Everything recorded so far (for thresholds evaluated live).
    pub aggregate: &'a Aggregate,
}

/// What a finished run returns.
pub struct RunReport {
    /// Everything recorded.
    pub aggregate: Aggregate,
    /// The last snapshot.
    pub snapshot: Snapshot,
    /// Stopped by a signal before the planned end.
    pub interrupted: bool,
    /// Wall time of the run, s.
    pub wall_s: f64,
}

/// Controls of a running engine (stop early, pause arrivals).
#[derive(Clone)]
pub struct Control {
    stop: Arc<watch::Sender<bool>>,
    paused: Arc<std::sync::atomic::AtomicBool>,
}

impl Control {
    /// A fresh control.
    pub fn new() -> Control {
        Control {
            stop: Arc::new(watch::channel(false).0),
            paused: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Stops arrivals, ends holds, starts the drain.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Pauses or resumes arrivals.
    pub fn set_paused(&self, p: bool) {
        self.paused.store(p, Relaxed);
    }

    /// Whether arrivals are paused.
    pub fn paused(&self) -> bool {
        self.paused.load(Relaxed)
    }
}

impl Default for Control {
    fn default() -> Self {
        Control::new()
    }
}

/// Runs a plan to its end. `observe` is called once per tick and once at the end.
pub async fn run(
    inputs: RunInputs<'_>,
    control: Control,
    mut observe: impl FnMut(&Tick<'_>),
) -> Result<RunReport, EngineError> {
    let s = inputs.scenario;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (abort_tx, abort_rx) = watch::channel(false);
    // Build first (TLS configurations, device certificates: that can take
    // longer than the lead), then start the clock with a short lead so the
    // first arrivals are not late by construction.
    let mut built = shared::build(&inputs, stop_rx.clone(), abort_rx, Instant::now())?;
    let start = Instant::now() + Duration::from_millis(50);
    built.restart_at(start, s.duration);
    let sh = Arc::new(built);
    let labels = crate::metrics::Labels {
        groups: s.groups.iter().map(|g| g.name.clone()).collect(),
        profiles: s.groups.iter().map(|g| g.profile.clone()).collect(),
    };
    let workers_n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let (data_tx, data_rx) = std::sync::mpsc::channel::<IntervalData>();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for id in 0..workers_n {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        senders.push(tx);
        handles.push(
            worker::spawn(id, rx, sh.clone(), data_tx.clone(), s.interval)
                .map_err(EngineError::Threads)?,
        );
    }
    drop(data_tx);

    let std_start = std::time::Instant::now() + start.saturating_duration_since(Instant::now());
    let sched_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scheduler = scheduler::spawn(scheduler::Pacing {
        devices: inputs.plan.devices.clone(),
        start: std_start,
        senders,
        shared: sh.clone(),
        stop: sched_stop.clone(),
        paused: control.paused.clone(),
    })
    .map_err(EngineError::Threads)?;

    let planned_concurrency = crate::scenario::planned_concurrency(s);
    let mut agg = Aggregate::default();
    let mut ext_stop = control.stop.subscribe();
    let mut ticker = tokio::time::interval_at(start + s.interval, s.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopped_at: Option<Instant> = None;
    let mut interrupted = false;
    let mut aborted = false;
    let mut last_tick = start;
    let final_snapshot;
    loop {
        let end_at = sh.end;
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::time::sleep_until(end_at), if stopped_at.is_none() => {}
            _ = ext_stop.wait_for(|v| *v), if stopped_at.is_none() => { interrupted = true; }
        }
        let now = Instant::now();
        if stopped_at.is_none() && (now >= sh.end || interrupted) {
            stopped_at = Some(now);
            sched_stop.store(true, Relaxed);
            let _ = stop_tx.send(true);
        }
        if let Some(t) = stopped_at {
            if !aborted && now >= t + s.drain {
                aborted = true;
                let _ = abort_tx.send(true);
            }
        }
        // Liveness: whatever happens inside a worker, the run ends a few
        // seconds after the drain deadline; attempts still open then are
        // counted as in flight at stop.
        let gave_up = stopped_at.is_some_and(|t| now >= t + s.drain + GIVE_UP_AFTER_DRAIN);
        let done = gave_up || handles.iter().all(|h| h.is_finished());
        let mut interval = IntervalData::default();
        while let Ok(d) = data_rx.try_recv() {
            interval.merge(d);
        }
        agg.absorb(&interval);
        let secs = now.duration_since(last_tick).as_secs_f64();
        last_tick = now;
        let mut snap = crate::metrics::build_snapshot(&agg, &interval, secs, &labels);
        snap.elapsed_s = now.saturating_duration_since(start).as_secs_f64();
        snap.planned_s = s.duration.as_secs_f64();
        snap.connected = sh.connected.load(Relaxed);
        snap.planned_devices = inputs.plan.devices.len() as u64;
        // A shard runs 1/N of the plan, so 1/N of the rate and of the sessions.
        let share = 1.0 / f64::from(inputs.shards.max(1));
        snap.target_rate = match stopped_at {
            Some(_) => 0.0,
            None => crate::scenario::rate_at(&s.arrival, snap.elapsed_s) * share,
        };
        snap.planned_concurrency = (planned_concurrency as f64 * share).ceil() as u64;
        snap.state = match (stopped_at, done) {
            (_, true) => RunState::Done,
            (Some(_), false) => RunState::Draining,
            (None, _) if control.paused() => RunState::Paused,
            (None, _) if scheduler.is_finished() => RunState::Holding,
            _ => {
                let t = snap.elapsed_s;
                let (now, soon) = (
                    crate::scenario::rate_at(&s.arrival, t),
                    crate::scenario::rate_at(&s.arrival, t + 1.0),
                );
                if (now - soon).abs() < 1e-9 {
                    RunState::Steady
                } else {
                    RunState::Ramping
                }
            }
        };
        observe(&Tick {
            elapsed_s: snap.elapsed_s,
            interval: &interval,
            snapshot: &snap,
            aggregate: &agg,
        });
        if done {
            final_snapshot = snap;
            break;
        }
    }
    let _ = scheduler.join();
    let mut stuck = 0;
    for h in handles {
        // A worker that did not finish is left behind, not waited for.
        if h.is_finished() {
            let _ = h.join();
        } else {
            stuck += 1;
        }
    }
    // Anything sent between the last check and the joins.
    let mut rest = IntervalData::default();
    while let Ok(d) = data_rx.try_recv() {
        rest.merge(d);
    }
    agg.absorb(&rest);
    if stuck > 0 {
        let c = &mut agg.counts;
        let open = c
            .attempted
            .saturating_sub(c.succeeded + c.failed() + c.aborted);
        c.aborted += open;
        eprintln!(
            "chainstorm: {stuck} worker(s) still busy {}s after the drain deadline; \
             {open} open attempt(s) counted as in flight at stop",
            GIVE_UP_AFTER_DRAIN.as_secs()
        );
    }
    if let Some(e) = agg.counts.accounting_error() {
        return Err(EngineError::Accounting(e));
    }
    let wall_s = start.elapsed().as_secs_f64();
    Ok(RunReport {
        aggregate: agg,
        snapshot: final_snapshot,
        interrupted,
        wall_s,
    })
}
