//! Running a scenario end to end: load → checks → plan → target →
//! engine → results. The binary's `run` verb is a thin wrapper; tests call
//! [`run_scenario`] directly.

mod checks;
pub mod limits;
mod sink;
mod target;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use checks::{check_run_id, CapacityLimit, PolicyRefusal};

use crate::engine::{self, Control, RunInputs};
use crate::metrics::Phase;
use crate::pki::PkiBundle;
use crate::results::{self, human_summary, Machine, RunPart, Summary, SummaryInputs};
use crate::scenario::{self, Plan, Scenario, Shard};

/// Errors of a run, by exit code class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Bad scenario or input (exit 2).
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// A command-line value outside what it allows (exit 2).
    #[error("{flag} {value:?}: allowed {allowed}")]
    BadOption {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What it allows.
        allowed: &'static str,
    },
    /// Traffic the safety policy refuses (exit 2).
    #[error("{}: {reason}", .scenario.display())]
    Policy {
        /// The scenario file.
        scenario: PathBuf,
        /// Why.
        reason: PolicyRefusal,
    },
    /// The scenario cannot fit this machine or process (exit 2).
    #[error("{}: {limit}", .scenario.display())]
    Capacity {
        /// The scenario file.
        scenario: PathBuf,
        /// The limit it does not fit.
        limit: CapacityLimit,
    },
    /// A runtime or server of the run could not start.
    #[error("starting {what}: {source}")]
    Start {
        /// What (`the endpoint runtime`, `--metrics-listen 127.0.0.1:9100`, …).
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded endpoint failed to start.
    #[error(transparent)]
    Endpoint(#[from] crate::endpoint::EndpointError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// Results could not be written.
    #[error(transparent)]
    Results(#[from] results::ResultsError),
    /// The PKI could not be loaded.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Allow targets outside 127.0.0.0/8 and ::1.
    pub allow_remote: bool,
    /// Override the scenario's output directory.
    pub output_dir: Option<PathBuf>,
    /// Print a progress line per tick to stderr.
    pub progress: bool,
    /// Override the duration (tests shorten scenarios).
    pub duration: Option<Duration>,
    /// Override every group's device count (tests shrink scenarios).
    pub devices: Option<u64>,
    /// Override the PKI directory.
    pub pki: Option<PathBuf>,
    /// With a remote target: the most attempts per second the scenario may
    /// plan (mandatory together with `allow_remote`).
    pub max_rate: Option<f64>,
    /// Run only this slice of the plan.
    pub shard: Option<Shard>,
    /// Serve live Prometheus metrics at `http://ADDR/metrics` while running.
    pub metrics_listen: Option<SocketAddr>,
    /// The id every shard of one distributed run shares: results go to
    /// `<output>/<run id>/`, and `merge` accepts only shards of that id.
    pub run_id: Option<String>,
}

/// What each tick hands to the caller's observer (a UI, a test).
pub struct LiveTick<'a> {
    /// The snapshot of this tick.
    pub snapshot: &'a crate::metrics::Snapshot,
    aggregate: &'a crate::metrics::Aggregate,
    rules: &'a [scenario::Threshold],
    groups: &'a [String],
}

impl LiveTick<'_> {
    /// Each threshold as `key condition` and whether it holds so far;
    /// evaluated only for an observer that asks (the TUI), since it merges
    /// histograms.
    pub fn thresholds(&self) -> Vec<(String, bool)> {
        results::evaluate(self.rules, self.aggregate, self.groups)
            .into_iter()
            .map(|t| (format!("{} {}", t.key, t.condition), t.pass))
            .collect()
    }
}

/// What a run produced.
pub struct RunOutcome {
    /// Results directory.
    pub dir: PathBuf,
    /// The summary written there.
    pub summary: Summary,
    /// Stopped by a signal.
    pub interrupted: bool,
}

fn machine(nofile: (u64, u64)) -> Machine {
    Machine {
        hostname: results::hostname(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        nofile_soft: nofile.0,
        nofile_hard: nofile.1,
    }
}

/// One progress line.
fn progress_line(s: &crate::metrics::Snapshot) -> String {
    let p99 = |p| s.phase(p).map(|r| r.interval.p99).unwrap_or(0) as f64;
    format!(
        "[{:>6.1}s/{:.0}s {:<8}] attempted={} ok={} failed={} in_flight={} connected={} rate={:.0}/s connect_total.p99={} chain_validation.p99={}",
        s.elapsed_s,
        s.planned_s,
        s.state.label(),
        s.attempted,
        s.succeeded,
        s.failed,
        s.in_flight,
        s.connected,
        s.attempted_rate,
        crate::metrics::format_ns(p99(Phase::ConnectTotal)),
        crate::metrics::format_ns(p99(Phase::ChainValidation)),
    )
}

/// Loads a scenario, applying test overrides.
pub fn prepare(path: &std::path::Path, opts: &RunOptions) -> Result<Scenario, RunError> {
    let mut s = scenario::load(path)?;
    if let Some(d) = opts.duration {
        s.duration = d;
    }
    if let Some(n) = opts.devices {
        for g in &mut s.groups {
            g.devices = n.min(g.devices);
        }
    }
    if let Some(o) = &opts.output_dir {
        s.output_dir = o.clone();
    }
    if let Some(p) = &opts.pki {
        s.target.pki = Some(p.clone());
    }
    Ok(s)
}

/// Parses `I/N` (0 <= I < N).
pub fn parse_shard(s: &str) -> Result<Shard, RunError> {
    s.parse().map_err(|_| RunError::BadOption {
        flag: "--shard",
        value: s.to_string(),
        allowed: "I/N with whole numbers 0 <= I < N, e.g. 0/4",
    })
}

/// Runs a scenario; `control` can stop it early (signals, UI). Blocking:
/// it builds its own runtimes (one for the embedded endpoint, one for the
/// scheduler and aggregator; workers have theirs), so call it from a plain
/// thread, not from inside a tokio runtime.
pub fn run_scenario(
    s: Scenario,
    opts: RunOptions,
    control: Control,
    on_tick: impl FnMut(LiveTick<'_>),
) -> Result<RunOutcome, RunError> {
    checks::check_policy(&s, &opts)?;
    warn_if_unverified(&s);
    let nofile = limits::raise_nofile();
    let pki = PkiBundle::load_or_cache(s.target.pki.as_deref())?;
    checks::check_plan_memory(&s)?;
    let sockets = checks::check_capacity(&s, opts.shard, nofile)?;
    limits::reserve_fd_table(sockets.min(nofile.0));
    let plan = plan(&s, &opts);
    let started = target::start(&s, &pki)?;
    let dir = run_dir(&s, &opts)?;
    let mut sink = sink::Sink::open(&s, &opts, &dir)?;
    let started_at = time::OffsetDateTime::now_utc();
    let inputs = RunInputs {
        scenario: &s,
        plan: &plan,
        pki: &pki,
        targets: started.targets.clone(),
        source_addresses: 16,
        // Shards on one machine use disjoint source addresses, so their
        // ephemeral ports never collide.
        source_offset: opts.shard.map_or(0, |sh| 16 * sh.index as usize),
        shards: opts.shard.map_or(1, |sh| sh.count),
    };
    let report = drive(inputs, &opts, control, &mut sink, on_tick);
    let (target_desc, remote) = (started.description.clone(), started.remote());
    started.stop();
    let report = report?;
    sink.finish()?;
    let mut summary = Summary::build(SummaryInputs {
        scenario: &s,
        aggregate: &report.aggregate,
        snapshot: &report.snapshot,
        target: target_desc,
        remote,
        planned_devices: plan.devices.len() as u64,
        machine: machine(nofile),
        started_at,
        wall_s: report.wall_s,
        interrupted: report.interrupted,
    });
    summary.shard = opts.shard.map(RunPart::Shard);
    summary.run_id = opts.run_id.clone();
    summary.write(&dir)?;
    results::wire_csv::write(&dir, &summary.wire)?;
    Ok(RunOutcome {
        dir,
        interrupted: report.interrupted,
        summary,
    })
}

fn warn_if_unverified(s: &Scenario) {
    if s.verification_off() {
        eprintln!("chainstorm: WARNING: certificate verification is OFF for groups using danger-accept-any");
    }
}

/// The seeded plan, cut to this process's shard. Planning a large fleet
/// takes seconds: say so rather than stay silent.
fn plan(s: &Scenario, opts: &RunOptions) -> Plan {
    let devices = s.total_devices();
    let loud = devices >= 200_000 && opts.progress;
    let planning = std::time::Instant::now();
    if loud {
        eprintln!("chainstorm: planning {devices} devices");
    }
    let mut plan = Plan::build(s);
    if loud {
        eprintln!(
            "chainstorm: planned in {:.1}s",
            planning.elapsed().as_secs_f64()
        );
    }
    if let Some(sh) = opts.shard {
        sh.keep_own(&mut plan);
    }
    plan
}

/// `<output>[/<run id>]/<name>[-shardIofN]-<UTC timestamp>/`, with a copy
/// of the scenario in it.
fn run_dir(s: &Scenario, opts: &RunOptions) -> Result<PathBuf, RunError> {
    let run_name = match opts.shard {
        Some(sh) => format!("{}-shard{}of{}", s.name, sh.index, sh.count),
        None => s.name.clone(),
    };
    let root = match &opts.run_id {
        Some(id) => s.output_dir.join(id),
        None => s.output_dir.clone(),
    };
    let dir = results::create_run_dir(&root, &run_name)?;
    let copy = dir.join("scenario.toml");
    std::fs::write(&copy, &s.source).map_err(results::write_err(&copy))?;
    Ok(dir)
}

/// Runs the engine on its control runtime, each tick into the sink and
/// then to the caller's observer.
fn drive(
    inputs: RunInputs<'_>,
    opts: &RunOptions,
    control: Control,
    sink: &mut sink::Sink,
    mut on_tick: impl FnMut(LiveTick<'_>),
) -> Result<engine::RunReport, RunError> {
    let control_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Start {
            what: "the control runtime".into(),
            source,
        })?;
    let s = inputs.scenario;
    let groups = s.group_names();
    let report = control_rt.block_on(engine::run(inputs, control, |tick| {
        sink.tick(tick);
        if opts.progress {
            eprintln!("{}", progress_line(tick.snapshot));
        }
        on_tick(LiveTick {
            snapshot: tick.snapshot,
            aggregate: tick.aggregate,
            rules: &s.thresholds,
            groups: &groups,
        });
    }))?;
    Ok(report)
}

/// The human summary of an outcome.
pub fn render(o: &RunOutcome) -> String {
    format!(
        "{}\nresults: {}\n",
        human_summary(&o.summary),
        o.dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_the_plan() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/quickstart.toml"
        ));
        let s = scenario::load(path).unwrap();
        let full = Plan::build(&s);
        let mut ids = std::collections::BTreeSet::new();
        let mut total = 0;
        for i in 0..4 {
            let mut p = Plan::build(&s);
            Shard { index: i, count: 4 }.keep_own(&mut p);
            total += p.devices.len();
            for d in &p.devices {
                assert!(
                    ids.insert(d.client_id.clone()),
                    "{} in two shards",
                    d.client_id
                );
            }
            // Interleaved: each slice spans the whole arrival window.
            assert!(
                p.devices.last().unwrap().arrival
                    > full.devices[full.devices.len() * 3 / 4].arrival
            );
        }
        assert_eq!(total, full.devices.len());
        assert_eq!(parse_shard("1/4").unwrap(), Shard { index: 1, count: 4 });
        assert_eq!(parse_shard("1/4").unwrap().to_string(), "1/4");
        assert!(parse_shard("4/4").is_err() && parse_shard("x").is_err());
    }
}
