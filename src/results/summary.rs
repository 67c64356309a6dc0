//! `summary.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{FailureRow, Stats};

/// Statistics of one series.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyStats {
    /// Phase label.
    pub phase: String,
    /// Fleet group (empty for all).
    pub group: String,
    /// Endpoint kind (empty for all).
    pub endpoint: String,
    /// Anchor path kind (chain validation).
    pub anchor: Option<String>,
    /// Samples.
    pub count: u64,
    /// ns.
    pub p50: u64,
    /// ns.
    pub p90: u64,
    /// ns.
    pub p99: u64,
    /// ns.
    pub p999: u64,
    /// ns.
    pub max: u64,
    /// ns.
    pub mean: f64,
}

impl KeyStats {
    /// A statistic's value (ns, or the count).
    pub fn stat(&self, s: crate::metrics::Stat) -> f64 {
        s.of(&Stats {
            count: self.count,
            p50: self.p50,
            p90: self.p90,
            p99: self.p99,
            p999: self.p999,
            max: self.max,
            mean: self.mean,
        })
    }

    /// From stats and labels.
    pub fn new(
        phase: &str,
        group: &str,
        endpoint: &str,
        anchor: Option<&str>,
        s: &Stats,
    ) -> KeyStats {
        KeyStats {
            phase: phase.into(),
            group: group.into(),
            endpoint: endpoint.into(),
            anchor: anchor.map(str::to_string),
            count: s.count,
            p50: s.p50,
            p90: s.p90,
            p99: s.p99,
            p999: s.p999,
            max: s.max,
            mean: s.mean,
        }
    }
}

/// The machine a run ran on.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// OS and architecture.
    pub os: String,
    /// Open-files soft limit after raising it.
    pub nofile_soft: u64,
    /// Open-files hard limit.
    pub nofile_hard: u64,
}

/// One threshold's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// Key as written.
    pub key: String,
    /// Condition as written.
    pub condition: String,
    /// Measured value (ns for latencies, a fraction for rates); `None` when no data matched.
    pub value: Option<f64>,
    /// Whether it held (no data: fails).
    pub pass: bool,
}

/// Attempt accounting.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Totals {
    /// Attempts started.
    pub attempted: u64,
    /// Attempts succeeded.
    pub succeeded: u64,
    /// Attempts failed.
    pub failed: u64,
    /// Attempts cut off by the drain deadline.
    pub in_flight_at_stop: u64,
    /// Sessions that failed while connected.
    pub hold_failures: u64,
    /// attempted == succeeded + failed + in_flight_at_stop.
    pub accounting_ok: bool,
    /// Completed TLS handshakes: full.
    pub handshakes_full: u64,
    /// Completed TLS handshakes: full after a HelloRetryRequest.
    pub handshakes_hrr: u64,
    /// Completed TLS handshakes: resumed.
    pub handshakes_resumed: u64,
}

/// One fleet group's device model and what became of its devices.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModelOutcome {
    /// Fleet group.
    pub group: String,
    /// Model (or plain profile) name.
    pub model: String,
    /// What it imitates.
    pub imitates: String,
    /// Its parts in one line.
    pub parts: String,
    /// Devices planned in the group.
    pub devices: u64,
    /// Attempts that connected.
    pub connected: u64,
    /// Attempts (and sessions) that failed, by cause.
    pub failed: u64,
    /// `phase/cause` → count, most frequent first.
    pub causes: Vec<ModelCause>,
}

/// One cause of a model's failures.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ModelCause {
    /// `phase/cause`, as a device of that kind would log it.
    pub cause: String,
    /// Occurrences.
    pub count: u64,
    /// First message.
    pub sample: String,
}

/// Version of the results layout, written into every summary.
pub const FORMAT_VERSION: u32 = 3;

/// The whole summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Results layout version ([`FORMAT_VERSION`]); absent in no released layout.
    pub format_version: u32,
    /// `chainstorm <version>`.
    pub tool: String,
    /// Versions of the libraries that shape the numbers.
    pub libraries: BTreeMap<String, String>,
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub scenario_path: String,
    /// Seed.
    pub seed: u64,
    /// Planned duration, s.
    pub planned_s: f64,
    /// Target description.
    pub target: String,
    /// Whether the target was outside loopback.
    pub remote: bool,
    /// Whether any group ran with certificate verification OFF (`danger-accept-any`).
    pub danger_accept_any: bool,
    /// `I/N` when this run was one shard of a plan; `merged N` for a merge.
    #[serde(default)]
    pub shard: Option<String>,
    /// The run id shared by every shard of one distributed run.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Devices planned.
    pub planned_devices: u64,
    /// Machine.
    pub machine: Machine,
    /// RFC 3339 start.
    pub started_at: String,
    /// Wall time, s.
    pub wall_s: f64,
    /// Stopped by a signal.
    pub interrupted: bool,
    /// Accounting.
    pub totals: Totals,
    /// Per phase over all series.
    pub phases: Vec<KeyStats>,
    /// Per series (phase × group × endpoint [× anchor]).
    pub keys: Vec<KeyStats>,
    /// Failures.
    pub failures: Vec<FailureRow>,
    /// Per fleet group: its device model, who connected, why the rest failed.
    #[serde(default)]
    pub models: Vec<ModelOutcome>,
    /// Thresholds.
    pub thresholds: Vec<ThresholdResult>,
    /// `pass` when every threshold held.
    pub verdict: Verdict,
}

/// The thresholds' verdict on a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every threshold held.
    #[default]
    Pass,
    /// At least one threshold failed.
    Fail,
}

impl Verdict {
    /// `pass` or `fail`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Summary {
    /// Writes `summary.json` into `dir` atomically (a temporary file, then
    /// a rename), so a reader never sees half a summary.
    pub fn write(&self, dir: &std::path::Path) -> Result<(), super::ResultsError> {
        let json =
            serde_json::to_string_pretty(self).map_err(|e| super::ResultsError::Serialize {
                path: dir.join("summary.json"),
                message: e.to_string(),
            })?;
        let tmp = dir.join(".summary.json.tmp");
        let path = dir.join("summary.json");
        std::fs::write(&tmp, json).map_err(super::write_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(super::write_err(&path))
    }

    /// Reads `summary.json` from a run directory (or the file itself),
    /// refusing layouts this version cannot read.
    pub fn read(path: &std::path::Path) -> Result<Summary, super::ResultsError> {
        use super::ResultsError::Format;
        let file = if path.is_dir() {
            path.join("summary.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(super::read_err(&file))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Format(format!("{}: not JSON: {e}", file.display())))?;
        match v.get("format_version").and_then(|x| x.as_u64()) {
            Some(n) if n == u64::from(FORMAT_VERSION) => {}
            Some(n) => {
                return Err(Format(format!(
                    "{}: results format {n}; this chainstorm reads format {FORMAT_VERSION} (re-run the scenario)",
                    file.display()
                )))
            }
            None => {
                return Err(Format(format!(
                    "{}: no format_version: not a chainstorm summary, or from a pre-release layout this version cannot read",
                    file.display()
                )))
            }
        }
        serde_json::from_value(v).map_err(|e| Format(format!("{}: {e}", file.display())))
    }
}

/// Everything a summary is built from.
pub struct SummaryInputs<'a> {
    /// The scenario.
    pub scenario: &'a crate::scenario::Scenario,
    /// Everything recorded.
    pub aggregate: &'a crate::metrics::Aggregate,
    /// Final snapshot (failure rows).
    pub snapshot: &'a crate::metrics::Snapshot,
    /// Target description.
    pub target: String,
    /// Whether the target was remote.
    pub remote: bool,
    /// Devices planned.
    pub planned_devices: u64,
    /// Machine facts.
    pub machine: Machine,
    /// Start time.
    pub started_at: time::OffsetDateTime,
    /// Wall time.
    pub wall_s: f64,
    /// Stopped by a signal.
    pub interrupted: bool,
}

impl Summary {
    /// Builds the summary and evaluates the thresholds.
    pub fn build(i: SummaryInputs<'_>) -> Summary {
        use crate::metrics::{histogram, Phase};
        let groups: Vec<String> = i.scenario.groups.iter().map(|g| g.name.clone()).collect();
        let agg = i.aggregate;
        let mut phases = Vec::new();
        for p in Phase::ALL {
            let mut h = histogram();
            for (_, s) in agg.series.iter().filter(|(k, _)| k.phase == p) {
                let _ = h.add(s);
            }
            phases.push(KeyStats::new(p.label(), "", "", None, &Stats::of(&h)));
        }
        let keys: Vec<KeyStats> = agg
            .series
            .iter()
            .map(|(k, h)| {
                let g = groups
                    .get(k.group as usize)
                    .map(String::as_str)
                    .unwrap_or("");
                KeyStats::new(
                    k.phase.label(),
                    g,
                    k.endpoint.label(),
                    k.anchor,
                    &Stats::of(h),
                )
            })
            .collect();
        let models = model_outcomes(i.scenario, &keys, &i.snapshot.failures);
        let thresholds = super::evaluate(&i.scenario.thresholds, agg, &groups);
        let verdict = if thresholds.iter().all(|t| t.pass) {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        let c = &agg.counts;
        let mut libraries = BTreeMap::new();
        for (k, v) in [
            ("rustls", "0.23"),
            ("rustls-webpki", "0.103"),
            ("aws-lc-rs", "1"),
            ("tokio", "1"),
            ("hdrhistogram", "7"),
        ] {
            libraries.insert(k.to_string(), v.to_string());
        }
        Summary {
            format_version: FORMAT_VERSION,
            tool: format!("chainstorm {}", env!("CARGO_PKG_VERSION")),
            libraries,
            scenario: i.scenario.name.clone(),
            scenario_path: i.scenario.path.display().to_string(),
            seed: i.scenario.seed,
            planned_s: i.scenario.duration.as_secs_f64(),
            target: i.target,
            remote: i.remote,
            danger_accept_any: i
                .scenario
                .groups
                .iter()
                .any(|g| g.profile == crate::trust::DANGER_ACCEPT_ANY),
            shard: None,
            run_id: None,
            planned_devices: i.planned_devices,
            machine: i.machine,
            started_at: i
                .started_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            wall_s: i.wall_s,
            interrupted: i.interrupted,
            totals: Totals {
                attempted: c.attempted,
                succeeded: c.succeeded,
                failed: c.failed(),
                in_flight_at_stop: c.aborted,
                hold_failures: c.hold_failures(),
                accounting_ok: c.attempted == c.succeeded + c.failed() + c.aborted,
                handshakes_full: c.handshakes[0],
                handshakes_hrr: c.handshakes[1],
                handshakes_resumed: c.handshakes[2],
            },
            phases,
            keys,
            failures: i.snapshot.failures.clone(),
            models,
            thresholds,
            verdict,
        }
    }
}

/// Per group: connected = its connect_total count, failures from the
/// failure rows (every phase, hold included), causes most frequent first.
fn model_outcomes(
    scenario: &crate::scenario::Scenario,
    keys: &[KeyStats],
    failures: &[FailureRow],
) -> Vec<ModelOutcome> {
    scenario
        .groups
        .iter()
        .map(|g| {
            let connected = keys
                .iter()
                .filter(|k| k.group == g.name && k.phase == "connect_total")
                .map(|k| k.count)
                .sum();
            let mut causes: BTreeMap<String, ModelCause> = BTreeMap::new();
            for f in failures.iter().filter(|f| f.group == g.name) {
                let c = causes
                    .entry(f.cause.qualified())
                    .or_insert_with(|| ModelCause {
                        cause: f.cause.qualified(),
                        count: 0,
                        sample: f.sample.clone(),
                    });
                c.count += f.count;
            }
            let mut causes: Vec<ModelCause> = causes.into_values().collect();
            causes.sort_by(|a, b| b.count.cmp(&a.count).then(a.cause.cmp(&b.cause)));
            ModelOutcome {
                group: g.name.clone(),
                model: g.model.name.clone(),
                imitates: g.model.imitates.clone(),
                parts: g.model.parts_line(),
                devices: g.devices,
                connected,
                failed: causes.iter().map(|c| c.count).sum(),
                causes,
            }
        })
        .collect()
}
