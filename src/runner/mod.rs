//! Running a scenario end to end: load → plan → (embedded endpoint) →
//! engine → results. The binary's `run` verb is a thin wrapper; tests call
//! [`run_scenario`] directly.

pub mod limits;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::endpoint::{Endpoint, EndpointConfig, ListenerConfig, MqttLimits};
use crate::engine::{self, Control, RunInputs};
use crate::metrics::Phase;
use crate::pki::PkiBundle;
use crate::results::{
    self, human_summary, HlogWriter, Machine, Summary, SummaryInputs, TimeseriesWriter,
};
use crate::safety::is_loopback;
use crate::scenario::schema::TargetKind;
use crate::scenario::{self, Plan, Scenario};

/// Errors of a run, by exit code class.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Bad scenario or input (exit 2).
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// An input that is not the scenario file (exit 2).
    #[error("{0}")]
    Input(String),
    /// The scenario cannot fit this machine or process (exit 2).
    #[error("{0}")]
    Capacity(String),
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
    /// Run only the I-th of N slices of the plan: (I, N).
    pub shard: Option<(u32, u32)>,
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
        Err(RunError::Input(format!(
            "--run-id {id:?}: allowed 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Parses `I/N` (0 <= I < N).
pub fn parse_shard(s: &str) -> Result<(u32, u32), RunError> {
    scenario::parse_shard(s).ok_or_else(|| {
        RunError::Input(format!(
            "--shard {s:?}: expected I/N with whole numbers 0 <= I < N, e.g. 0/4"
        ))
    })
}

/// Keeps the devices of shard `i` of `n`: every n-th device of the plan,
/// so the slices are disjoint (device and client ids), interleaved in time
/// (each slice runs at 1/n of the arrival rate) and come from the same seed.
pub fn shard_plan(plan: &mut Plan, i: u32, n: u32) {
    let mut k = 0usize;
    plan.devices.retain(|_| {
        let keep = k % n as usize == i as usize;
        k += 1;
        keep
    });
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

/// Runs a scenario; `control` can stop it early (signals, UI). Blocking:
/// it builds its own runtimes (one for the embedded endpoint, one for the
/// scheduler and aggregator; workers have theirs), so call it from a plain
/// thread, not from inside a tokio runtime.
pub fn run_scenario(
    s: Scenario,
    opts: RunOptions,
    control: Control,
    mut on_tick: impl FnMut(LiveTick<'_>),
) -> Result<RunOutcome, RunError> {
    check_policy(&s, &opts)?;
    if s.groups
        .iter()
        .any(|g| g.profile == crate::trust::DANGER_ACCEPT_ANY)
    {
        eprintln!("chainstorm: WARNING: certificate verification is OFF for groups using danger-accept-any");
    }
    let nofile = limits::raise_nofile();
    let pki = PkiBundle::load_or_cache(s.target.pki.as_deref())?;
    check_plan_memory(&s)?;
    let sockets = check_capacity(&s, opts.shard, nofile)?;
    limits::reserve_fd_table(sockets.min(nofile.0));
    let devices: u64 = s.groups.iter().map(|g| g.devices).sum();
    // Planning a large fleet takes seconds: say so rather than stay silent.
    let planning = std::time::Instant::now();
    if devices >= 200_000 && opts.progress {
        eprintln!("chainstorm: planning {devices} devices");
    }
    let mut plan = Plan::build(&s);
    if devices >= 200_000 && opts.progress {
        eprintln!(
            "chainstorm: planned in {:.1}s",
            planning.elapsed().as_secs_f64()
        );
    }
    if let Some((i, n)) = opts.shard {
        shard_plan(&mut plan, i, n);
    }
    let embedded = s.target.kind == TargetKind::Embedded;

    let Started {
        targets,
        description: target_desc,
        mut endpoint,
        endpoint_rt,
    } = start_target(&s, &pki, embedded)?;
    let remote = targets.iter().any(|a| !is_loopback(a.ip()));

    let run_name = match opts.shard {
        Some((i, n)) => format!("{}-shard{i}of{n}", s.name),
        None => s.name.clone(),
    };
    let root = match &opts.run_id {
        Some(id) => s.output_dir.join(id),
        None => s.output_dir.clone(),
    };
    let dir = results::create_run_dir(&root, &run_name)?;
    std::fs::write(dir.join("scenario.toml"), &s.source)
        .map_err(results::write_err(&dir.join("scenario.toml")))?;
    let groups: Vec<String> = s.groups.iter().map(|g| g.name.clone()).collect();
    let group_names = groups.clone();
    let started_at = time::OffsetDateTime::now_utc();
    let mut hlog = HlogWriter::create(&dir.join("latency.hlog"), groups, SystemTime::now())?;
    let mut ts = TimeseriesWriter::create(&dir.join("timeseries.csv"))?;
    let mut write_error: Option<results::ResultsError> = None;
    let page = crate::live::Page::default();
    let _metrics = match opts.metrics_listen {
        None => None,
        Some(addr) => Some(
            crate::live::MetricsServer::start(addr, page.clone())
                .map_err(|e| RunError::Input(format!("--metrics-listen {addr}: {e}")))?,
        ),
    };
    let shard_label = opts.shard.map(|(i, n)| format!("{i}/{n}"));
    let mut extra: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = &opts.run_id {
        extra.push(("run_id", id));
    }
    if let Some(sh) = &shard_label {
        extra.push(("shard", sh));
    }
    let metric_labels = crate::metrics::Labels {
        groups: group_names.clone(),
        profiles: s.groups.iter().map(|g| g.profile.clone()).collect(),
    };
    let mut last_elapsed = 0.0f64;
    let control_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Input(format!("starting the control runtime: {e}")))?;
    let report = control_rt.block_on(engine::run(
        RunInputs {
            scenario: &s,
            plan: &plan,
            pki: &pki,
            targets,
            source_addresses: 16,
            // Shards on one machine use disjoint source addresses, so their
            // ephemeral ports never collide.
            source_offset: opts.shard.map(|(i, _)| 16 * i as usize).unwrap_or(0),
            shards: opts.shard.map(|(_, n)| n).unwrap_or(1),
        },
        control,
        |tick| {
            let offset = Duration::from_secs_f64(last_elapsed.max(0.0));
            let len = Duration::from_secs_f64((tick.elapsed_s - last_elapsed).max(0.0));
            last_elapsed = tick.elapsed_s;
            if write_error.is_none() {
                if let Err(e) = hlog
                    .write(tick.interval, offset, len)
                    .and_then(|_| ts.write(tick.interval, tick.snapshot))
                {
                    write_error = Some(e);
                }
            }
            if opts.progress {
                eprintln!("{}", progress_line(tick.snapshot));
            }
            if opts.metrics_listen.is_some() {
                page.set(crate::metrics::exposition::render(
                    tick.aggregate,
                    tick.snapshot,
                    &metric_labels,
                    &extra,
                ));
            }
            on_tick(LiveTick {
                snapshot: tick.snapshot,
                aggregate: tick.aggregate,
                rules: &s.thresholds,
                groups: &group_names,
            });
        },
    ));
    if let (Some(h), Some(rt)) = (endpoint.take(), endpoint_rt.as_ref()) {
        rt.block_on(h.shutdown(Duration::from_secs(2)));
    }
    if let Some(rt) = endpoint_rt {
        rt.shutdown_background();
    }
    let report = report?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    hlog.finish()?;
    ts.finish()?;
    let summary = Summary::build(SummaryInputs {
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
    let mut summary = summary;
    summary.shard = opts.shard.map(|(i, n)| format!("{i}/{n}"));
    summary.run_id = opts.run_id.clone();
    summary.write(&dir)?;
    Ok(RunOutcome {
        dir,
        interrupted: report.interrupted,
        summary,
    })
}

/// Refuses traffic outside loopback unless allowed, and then demands a
/// rate ceiling the scenario's peak respects.
fn check_policy(s: &Scenario, opts: &RunOptions) -> Result<(), RunError> {
    if s.target.kind == TargetKind::External {
        for a in &s.target.addresses {
            crate::safety::check_target(*a, opts.allow_remote)
                .map_err(|e| RunError::Input(format!("{}: {e}", s.path.display())))?;
        }
    }
    if s.target.kind == TargetKind::External
        && s.target.addresses.iter().any(|a| !is_loopback(a.ip()))
    {
        // Allowed: then a rate ceiling is mandatory (the duration always is).
        let Some(ceiling) = opts.max_rate else {
            return Err(RunError::Input(format!(
                "{}: a remote target needs --max-rate (attempts per second the scenario may not exceed)",
                s.path.display()
            )));
        };
        let peak = match s.arrival.mode {
            crate::scenario::schema::ArrivalMode::Storm => f64::INFINITY,
            crate::scenario::schema::ArrivalMode::Rate => s
                .arrival
                .stages
                .iter()
                .map(|(r, _)| *r)
                .fold(s.arrival.start_rate, f64::max),
        };
        // A shard runs 1/N of the plan, so 1/N of its rate.
        let peak = peak / f64::from(opts.shard.map(|(_, n)| n).unwrap_or(1));
        if peak > ceiling {
            return Err(RunError::Input(format!(
                "{}: the scenario's peak arrival rate {peak}/s exceeds --max-rate {ceiling}/s (storms are refused for remote targets)",
                s.path.display()
            )));
        }
    }
    Ok(())
}

/// The target a run connects to, started.
struct Started {
    targets: Vec<SocketAddr>,
    description: String,
    /// The embedded endpoint and its runtime, when the scenario asks for it.
    endpoint: Option<crate::endpoint::EndpointHandle>,
    endpoint_rt: Option<tokio::runtime::Runtime>,
}

/// Starts the embedded endpoint (its own runtime and threads; the engine
/// reaches it over loopback sockets only), or takes the external addresses.
fn start_target(s: &Scenario, pki: &PkiBundle, embedded: bool) -> Result<Started, RunError> {
    if !embedded {
        let a: Vec<SocketAddr> = s.target.addresses.clone();
        let description = format!(
            "external {}",
            a.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(Started {
            targets: a,
            description,
            endpoint: None,
            endpoint_rt: None,
        });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("chainstorm-endpoint")
        .enable_all()
        .build()
        .map_err(|e| RunError::Input(format!("starting the endpoint runtime: {e}")))?;
    let e = &s.target.endpoint;
    let cfg = EndpointConfig {
        listeners: vec![ListenerConfig {
            addr: "127.0.0.1:0".parse().expect("literal"),
            mode: e.listener,
        }],
        account_prefix: Some(s.target.account_prefix.clone()),
        require_sni: true,
        mtls: e.mtls,
        security_policy: e.security_policy,
        key_preference: e.key_preference,
        resumption: e.resumption,
        mqtt: MqttLimits::default(),
        faults: e.faults.clone(),
        handshake_timeout_s: 10.0,
        reuse_port: false,
        rotation: e.rotation.clone(),
        no_alpn: Default::default(),
    };
    let handle = rt.block_on(Endpoint::start(cfg, pki))?;
    let addr = handle.addrs()[0].1;
    Ok(Started {
        targets: vec![addr],
        description: format!("embedded mock endpoint on {addr} ({})", e.listener.label()),
        endpoint: Some(handle),
        endpoint_rt: Some(rt),
    })
}

/// Refuses, before planning, a plan that cannot fit in this machine's
/// available memory: the plan holds each device (and its client id) about
/// three times over while it is built, shuffled and handed to the scheduler.
fn check_plan_memory(s: &Scenario) -> Result<(), RunError> {
    let devices: u64 = s.groups.iter().map(|g| g.devices).sum();
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
        return Err(RunError::Capacity(format!(
            "{}: planning {devices} devices needs about {} MiB, more than half of the {} MiB available; use fewer devices or shards (--shard I/N) on several machines",
            s.path.display(),
            need >> 20,
            avail >> 20
        )));
    }
    Ok(())
}

/// Refuses a plan that cannot fit the open-files limit.
fn check_capacity(
    s: &Scenario,
    shard: Option<(u32, u32)>,
    nofile: (u64, u64),
) -> Result<u64, RunError> {
    // The devices this process will run (a shard holds only its slice),
    // known before planning.
    let total: u64 = s.groups.iter().map(|g| g.devices).sum();
    let devices = match shard {
        Some((_, n)) => total.div_ceil(u64::from(n)),
        None => total,
    };
    let any_hold = s.groups.iter().any(|g| !g.hold.is_zero());
    let embedded = s.target.kind == TargetKind::Embedded;
    let need = limits::sockets_needed(devices, any_hold, s.arrival.max_in_flight, embedded);
    if need > nofile.0 {
        return Err(RunError::Capacity(format!(
            "{}: this run may hold {need} sockets ({devices} devices{}), but the open-files limit is {} (hard {}); \
             run the endpoint in another process (`chainstorm serve` + an external target), use fewer devices, \
             or cap arrival.max_in_flight with no hold",
            s.path.display(),
            if embedded { ", two sockets each with the embedded endpoint" } else { "" },
            nofile.0,
            nofile.1
        )));
    }
    // Ports: one (source, destination) pair has ~28,000 ephemeral ports
    // (32768-60999). Loopback targets rotate 16 source addresses; any other
    // target has this host's one address per destination.
    let loopback = embedded || s.target.addresses.iter().all(|a| is_loopback(a.ip()));
    let sources: u64 = if loopback { 16 } else { 1 };
    let destinations = s.target.addresses.len().max(1) as u64;
    let ports = limits::EPHEMERAL_PORTS * sources * destinations;
    let concurrent = if any_hold {
        devices
    } else if s.arrival.max_in_flight > 0 {
        s.arrival.max_in_flight.min(devices)
    } else {
        devices
    };
    if concurrent > ports {
        return Err(RunError::Capacity(format!(
            "{}: up to {concurrent} connections at once, but {sources} source address(es) x {destinations} target(s) give {ports} ephemeral ports; \
             use more target addresses, fewer devices per process, or shards on several machines",
            s.path.display()
        )));
    }
    Ok(need)
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
            shard_plan(&mut p, i, 4);
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
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        assert!(parse_shard("4/4").is_err() && parse_shard("x").is_err());
    }
}
