//! The load engine: an open-loop scheduler feeding device sessions to
//! worker threads, per-worker recording merged each tick into snapshots.
//!
//! The engine talks to an endpoint only over sockets; it never imports the
//! `endpoint` module, even when the endpoint runs in the same process.

mod device;
mod dialer;
mod scheduler;
mod shared;
mod wire;
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
    let (senders, handles, data_rx) = start_workers(&sh, s.interval)?;
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

    let view = TickView::new(&inputs, start);
    let mut agg = Aggregate::default();
    let mut ext_stop = control.stop.subscribe();
    let mut ticker = tokio::time::interval_at(start + s.interval, s.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ending = Ending::default();
    let mut last_tick = start;
    let final_snapshot = loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::time::sleep_until(sh.end), if ending.stopped_at.is_none() => {}
            _ = ext_stop.wait_for(|v| *v), if ending.stopped_at.is_none() => { ending.interrupted = true; }
        }
        let now = Instant::now();
        if ending.stop_if_due(now, sh.end) {
            sched_stop.store(true, Relaxed);
            let _ = stop_tx.send(true);
        }
        if ending.abort_if_due(now, s.drain) {
            let _ = abort_tx.send(true);
        }
        // Liveness: whatever happens inside a worker, the run ends a few
        // seconds after the drain deadline; attempts still open then are
        // counted as in flight at stop.
        let done = ending.gave_up(now, s.drain) || handles.iter().all(|h| h.is_finished());
        let mut interval = IntervalData::default();
        while let Ok(d) = data_rx.try_recv() {
            interval.merge(d);
        }
        agg.absorb(&interval);
        let secs = now.duration_since(last_tick).as_secs_f64();
        last_tick = now;
        let mut snap = view.snapshot(&agg, &interval, secs, now, &sh, ending.stopped_at);
        snap.state = view.state(&snap, &ending, done, &control, scheduler.is_finished());
        observe(&Tick {
            elapsed_s: snap.elapsed_s,
            interval: &interval,
            snapshot: &snap,
            aggregate: &agg,
        });
        if done {
            break snap;
        }
    };
    let _ = scheduler.join();
    join_workers(handles, &data_rx, &mut agg);
    if let Some(e) = agg.counts.accounting_error() {
        return Err(EngineError::Accounting(e));
    }
    Ok(RunReport {
        aggregate: agg,
        snapshot: final_snapshot,
        interrupted: ending.interrupted,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

type Workers = (
    Vec<tokio::sync::mpsc::UnboundedSender<worker::Arrival>>,
    Vec<std::thread::JoinHandle<()>>,
    std::sync::mpsc::Receiver<IntervalData>,
);

/// One worker thread per core (1 to 8): the scheduler's senders, their
/// handles, and the channel their per-tick data comes back on.
fn start_workers(sh: &Arc<shared::Shared>, tick: Duration) -> Result<Workers, EngineError> {
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
            worker::spawn(id, rx, sh.clone(), data_tx.clone(), tick)
                .map_err(EngineError::Threads)?,
        );
    }
    Ok((senders, handles, data_rx))
}

/// How the run ends: stopped (planned end or a signal), then aborted at the
/// drain deadline, then given up on a few seconds later.
#[derive(Default)]
struct Ending {
    stopped_at: Option<Instant>,
    interrupted: bool,
    aborted: bool,
}

impl Ending {
    /// True the once the run passes its end or is interrupted.
    fn stop_if_due(&mut self, now: Instant, end: Instant) -> bool {
        if self.stopped_at.is_none() && (now >= end || self.interrupted) {
            self.stopped_at = Some(now);
            return true;
        }
        false
    }

    /// True the once the drain deadline passes.
    fn abort_if_due(&mut self, now: Instant, drain: Duration) -> bool {
        match self.stopped_at {
            Some(t) if !self.aborted && now >= t + drain => {
                self.aborted = true;
                true
            }
            _ => false,
        }
    }

    fn gave_up(&self, now: Instant, drain: Duration) -> bool {
        self.stopped_at
            .is_some_and(|t| now >= t + drain + GIVE_UP_AFTER_DRAIN)
    }
}

/// What every tick's snapshot is built with.
struct TickView<'a> {
    inputs: &'a RunInputs<'a>,
    start: Instant,
    labels: crate::metrics::Labels,
    planned_concurrency: u64,
    /// A shard runs 1/N of the plan, so 1/N of the rate and of the sessions.
    share: f64,
}

impl<'a> TickView<'a> {
    fn new(inputs: &'a RunInputs<'a>, start: Instant) -> TickView<'a> {
        let s = inputs.scenario;
        TickView {
            inputs,
            start,
            labels: s.labels(),
            planned_concurrency: crate::scenario::planned_concurrency(s),
            share: 1.0 / f64::from(inputs.shards.max(1)),
        }
    }

    fn snapshot(
        &self,
        agg: &Aggregate,
        interval: &IntervalData,
        secs: f64,
        now: Instant,
        sh: &shared::Shared,
        stopped_at: Option<Instant>,
    ) -> Snapshot {
        let s = self.inputs.scenario;
        let mut snap = crate::metrics::build_snapshot(agg, interval, secs, &self.labels);
        snap.elapsed_s = now.saturating_duration_since(self.start).as_secs_f64();
        snap.planned_s = s.duration.as_secs_f64();
        snap.connected = sh.connected.load(Relaxed);
        snap.planned_devices = self.inputs.plan.devices.len() as u64;
        snap.target_rate = match stopped_at {
            Some(_) => 0.0,
            None => crate::scenario::rate_at(&s.arrival, snap.elapsed_s) * self.share,
        };
        snap.planned_concurrency = (self.planned_concurrency as f64 * self.share).ceil() as u64;
        snap
    }

    fn state(
        &self,
        snap: &Snapshot,
        ending: &Ending,
        done: bool,
        control: &Control,
        arrivals_over: bool,
    ) -> RunState {
        let arrival = &self.inputs.scenario.arrival;
        match (ending.stopped_at, done) {
            (_, true) => RunState::Done,
            (Some(_), false) => RunState::Draining,
            (None, _) if control.paused() => RunState::Paused,
            (None, _) if arrivals_over => RunState::Holding,
            _ => {
                let t = snap.elapsed_s;
                let (now, soon) = (
                    crate::scenario::rate_at(arrival, t),
                    crate::scenario::rate_at(arrival, t + 1.0),
                );
                if (now - soon).abs() < 1e-9 {
                    RunState::Steady
                } else {
                    RunState::Ramping
                }
            }
        }
    }
}

/// Joins the workers that finished (one still busy is left behind, not
/// waited for) and takes in what they sent last; attempts a stuck worker
/// holds are counted as in flight at stop.
fn join_workers(
    handles: Vec<std::thread::JoinHandle<()>>,
    data_rx: &std::sync::mpsc::Receiver<IntervalData>,
    agg: &mut Aggregate,
) {
    let mut stuck = 0;
    for h in handles {
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
}
