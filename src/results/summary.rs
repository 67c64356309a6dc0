//! `summary.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{Anchor, Cause, EndpointKind, FailureRow, Figure, Phase, SeriesKey, Stats};
use crate::scenario::Shard;

/// Statistics of one series: a phase over the whole run (group and endpoint
/// absent), or one phase × group × endpoint [× anchor] series. On disk the
/// labels are today's strings (`""` for "all"), so format 3 still reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyStats {
    /// Phase.
    pub phase: Phase,
    /// Fleet group name (empty for all).
    pub group: String,
    /// Endpoint kind (`None`: all).
    #[serde(with = "endpoint_or_all")]
    pub endpoint: Option<EndpointKind>,
    /// Anchor path kind (chain validation).
    pub anchor: Option<Anchor>,
    /// The series' statistics.
    #[serde(flatten)]
    pub stats: Stats,
}

impl KeyStats {
    /// A statistic's value (ns, or the count).
    pub fn stat(&self, s: crate::metrics::Stat) -> f64 {
        s.of(&self.stats)
    }

    /// One phase over the whole run.
    pub fn phase(phase: Phase, stats: Stats) -> KeyStats {
        KeyStats {
            phase,
            group: String::new(),
            endpoint: None,
            anchor: None,
            stats,
        }
    }

    /// One series of a group.
    pub fn series(key: &SeriesKey, group: &str, stats: Stats) -> KeyStats {
        KeyStats {
            phase: key.phase,
            group: group.into(),
            endpoint: Some(key.endpoint),
            anchor: key.anchor,
            stats,
        }
    }
}

/// `KeyStats::endpoint` on disk: the kind's label, or `""` for all kinds.
mod endpoint_or_all {
    use crate::metrics::EndpointKind;

    pub fn serialize<S: serde::Serializer>(
        e: &Option<EndpointKind>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(e.map(EndpointKind::label).unwrap_or(""))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<EndpointKind>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        EndpointKind::from_label(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown endpoint kind {s:?}")))
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
    /// The unit of `value` and `limit` (absent in summaries written before it was recorded).
    #[serde(default)]
    pub unit: Option<ValueUnit>,
    /// The limit the value is held against, in `unit`.
    #[serde(default)]
    pub limit: Option<f64>,
    /// A latency percentile or maximum over the whole fleet (no filters), which
    /// the report draws on the percentile plot.
    #[serde(default)]
    pub on_percentile_plot: bool,
}

/// The unit a threshold's value is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueUnit {
    /// A latency, ns.
    Nanoseconds,
    /// A share of finished attempts, 0 to 1.
    Fraction,
    /// A number of samples, attempts or failures.
    Count,
}

impl ValueUnit {
    /// The value as a person reads it: a duration, a percentage or a count.
    pub fn format(self, v: f64) -> String {
        match self {
            ValueUnit::Nanoseconds => crate::metrics::format_ns(v),
            ValueUnit::Fraction => format!("{:.3}%", v * 100.0),
            ValueUnit::Count => format!("{v:.0}"),
        }
    }
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelCause {
    /// The cause, written `phase/cause` as a device of that kind would log it.
    #[serde(with = "crate::metrics::qualified_cause")]
    pub cause: Cause,
    /// Occurrences.
    pub count: u64,
    /// First message.
    pub sample: String,
}

/// What the successful connects of one group × endpoint × chain put on
/// the wire, and how long they took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireStats {
    /// Fleet group.
    pub group: String,
    /// The group's link (`loopback`, `nb-iot`, …).
    pub link: String,
    /// Its parameters in one line.
    pub link_params: String,
    /// Endpoint kind.
    pub endpoint: EndpointKind,
    /// Certificates the server sent.
    pub certs: u8,
    /// Connects counted.
    pub connects: u64,
    /// Share of them with at least one retransmission.
    pub retransmitted: f64,
    /// Each figure's statistics.
    pub figures: BTreeMap<Figure, FigureStats>,
}

/// One figure over the connects of a key.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct FigureStats {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: u64,
}

impl WireStats {
    /// One figure (zeros when absent).
    pub fn figure(&self, f: Figure) -> FigureStats {
        self.figures.get(&f).copied().unwrap_or_default()
    }
}

/// The wire statistics of every key, groups by name.
fn wire_stats(
    scenario: &crate::scenario::Scenario,
    agg: &crate::metrics::Aggregate,
) -> Vec<WireStats> {
    agg.wire
        .iter()
        .filter_map(|(k, h)| {
            let g = scenario.groups.get(k.group as usize)?;
            let figures = Figure::ALL
                .into_iter()
                .map(|f| {
                    let x = h.of(f);
                    let st = FigureStats {
                        p50: x.value_at_quantile(0.5),
                        p99: x.value_at_quantile(0.99),
                        mean: x.mean(),
                        max: x.max(),
                    };
                    (f, st)
                })
                .collect();
            Some(WireStats {
                group: g.name.clone(),
                link: g.link_name.clone(),
                link_params: g.link.describe(),
                endpoint: k.endpoint,
                certs: k.certs,
                connects: h.of(Figure::ConnectTotalNs).len(),
                retransmitted: {
                    let r = h.of(Figure::Retransmits);
                    if r.is_empty() {
                        0.0
                    } else {
                        1.0 - r.count_between(0, 0) as f64 / r.len() as f64
                    }
                },
                figures,
            })
        })
        .collect()
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
    /// One shard of a plan (`I/N` on disk), or a merge of N shards (`merged N`).
    #[serde(default)]
    pub shard: Option<RunPart>,
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
    /// Bytes, records, flights and seconds per successful connect, per
    /// group (and its link) × endpoint × chain served.
    #[serde(default)]
    pub wire: Vec<WireStats>,
    /// Thresholds.
    pub thresholds: Vec<ThresholdResult>,
    /// `pass` when every threshold held.
    pub verdict: Verdict,
}

/// What part of a distributed run a summary covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPart {
    /// One shard (`I/N`).
    Shard(Shard),
    /// The merge of this many shards (`merged N`).
    Merged(u32),
}

impl std::fmt::Display for RunPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunPart::Shard(s) => s.fmt(f),
            RunPart::Merged(n) => write!(f, "merged {n}"),
        }
    }
}

impl Serialize for RunPart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunPart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RunPart, D::Error> {
        let s = String::deserialize(d)?;
        if let Some(n) = s.strip_prefix("merged ") {
            return n
                .parse()
                .map(RunPart::Merged)
                .map_err(|_| serde::de::Error::custom(format!("bad merge count {s:?}")));
        }
        s.parse()
            .map(RunPart::Shard)
            .map_err(serde::de::Error::custom)
    }
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
    /// The fleet groups' names, in scenario order (the index an interval
    /// log's tags are read against).
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.models.iter().map(|m| m.group.clone()).collect();
        for k in &self.keys {
            if !names.contains(&k.group) {
                names.push(k.group.clone());
            }
        }
        names
    }

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
        use super::ResultsError::{Layout, Malformed};
        let file = if path.is_dir() {
            path.join("summary.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(super::read_err(&file))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Malformed {
            path: file.clone(),
            line: Some(e.line()),
            what: format!("not JSON: {e}"),
        })?;
        match v.get("format_version").and_then(|x| x.as_u64()) {
            Some(n) if n == u64::from(FORMAT_VERSION) => {}
            found => return Err(Layout { path: file, found }),
        }
        serde_json::from_value(v).map_err(|e| Malformed {
            path: file,
            line: None,
            what: e.to_string(),
        })
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
        use crate::metrics::histogram;
        let groups: Vec<String> = i.scenario.groups.iter().map(|g| g.name.clone()).collect();
        let agg = i.aggregate;
        let mut phases = Vec::new();
        for p in Phase::ALL {
            let mut h = histogram();
            for (_, s) in agg.series.iter().filter(|(k, _)| k.phase == p) {
                let _ = h.add(s);
            }
            phases.push(KeyStats::phase(p, Stats::of(&h)));
        }
        let keys: Vec<KeyStats> = agg
            .series
            .iter()
            .map(|(k, h)| {
                let g = groups
                    .get(k.group as usize)
                    .map(String::as_str)
                    .unwrap_or("");
                KeyStats::series(k, g, Stats::of(h))
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
            danger_accept_any: i.scenario.verification_off(),
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
            wire: wire_stats(i.scenario, agg),
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
                .filter(|k| k.group == g.name && k.phase == Phase::ConnectTotal)
                .map(|k| k.stats.count)
                .sum();
            let mut causes: BTreeMap<Cause, ModelCause> = BTreeMap::new();
            for f in failures.iter().filter(|f| f.group == g.name) {
                let c = causes.entry(f.cause.clone()).or_insert_with(|| ModelCause {
                    cause: f.cause.clone(),
                    count: 0,
                    sample: f.sample.clone(),
                });
                c.count += f.count;
            }
            let mut causes: Vec<ModelCause> = causes.into_values().collect();
            causes.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.cause.qualified().cmp(&b.cause.qualified()))
            });
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
