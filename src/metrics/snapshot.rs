//! Snapshots: what the UI, the progress line and the results read. Built by
//! the aggregator once per tick; readers never touch the hot path.

use serde::{Deserialize, Serialize};

use super::cause::Cause;
use super::cause::FailPhase;
use super::phase::{Anchor, EndpointKind, Phase};
use hdrhistogram::Histogram;

/// A statistic of a latency series, as thresholds and `compare` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    /// `p50` (or `median`).
    P50,
    /// `p90`.
    P90,
    /// `p99`.
    P99,
    /// `p99.9`.
    P999,
    /// `max`.
    Max,
    /// `mean` (or `avg`).
    Mean,
    /// `count`: samples, not a duration.
    Count,
}

impl Stat {
    /// The percentiles, in table order (what `compare` compares).
    pub const PERCENTILES: [Stat; 4] = [Stat::P50, Stat::P90, Stat::P99, Stat::P999];

    /// `p50`, `p90`, `p99`, `p99.9`, `max`, `mean`, `count`.
    pub fn label(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::Max => "max",
            Stat::Mean => "mean",
            Stat::Count => "count",
        }
    }

    /// The statistic a key names (aliases `median`, `p999`, `avg`).
    pub fn from_label(s: &str) -> Option<Stat> {
        Some(match s {
            "p50" | "median" => Stat::P50,
            "p90" => Stat::P90,
            "p99" => Stat::P99,
            "p99.9" | "p999" => Stat::P999,
            "max" => Stat::Max,
            "mean" | "avg" => Stat::Mean,
            "count" => Stat::Count,
            _ => return None,
        })
    }

    /// Its value in `s` (ns, or a count).
    pub fn of(self, s: &Stats) -> f64 {
        match self {
            Stat::P50 => s.p50 as f64,
            Stat::P90 => s.p90 as f64,
            Stat::P99 => s.p99 as f64,
            Stat::P999 => s.p999 as f64,
            Stat::Max => s.max as f64,
            Stat::Mean => s.mean,
            Stat::Count => s.count as f64,
        }
    }
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Percentiles of one histogram, ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Stats {
    /// Reads a histogram.
    pub fn of(h: &Histogram<u64>) -> Stats {
        if h.is_empty() {
            return Stats::default();
        }
        Stats {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// Per-phase statistics over all groups and endpoints.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseRow {
    /// Phase.
    pub phase: Phase,
    /// Last interval.
    pub interval: Stats,
    /// Whole run so far.
    pub total: Stats,
}

/// One row of the failure table. In JSON the cause is two fields, `phase`
/// and `cause` (its label), as results have always stored it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "FailureRowJson", try_from = "FailureRowJson")]
pub struct FailureRow {
    /// Cause (which implies the phase).
    pub cause: Cause,
    /// Fleet group name.
    pub group: String,
    /// Trust profile of the group.
    pub profile: String,
    /// Endpoint kind.
    pub endpoint: EndpointKind,
    /// Count so far.
    pub count: u64,
    /// Share of all failures.
    pub share: f64,
    /// Occurrences in the last interval, per second.
    pub rate_now: f64,
    /// ms since start.
    pub first_seen_ms: u64,
    /// ms since start.
    pub last_seen_ms: u64,
    /// First message.
    pub sample: String,
}

impl FailureRow {
    /// The phase of the cause.
    pub fn phase(&self) -> FailPhase {
        self.cause.phase()
    }
}

/// [`FailureRow`] as stored in `summary.json`.
#[derive(Serialize, Deserialize)]
struct FailureRowJson {
    phase: FailPhase,
    cause: String,
    group: String,
    profile: String,
    endpoint: EndpointKind,
    count: u64,
    share: f64,
    rate_now: f64,
    first_seen_ms: u64,
    last_seen_ms: u64,
    sample: String,
}

impl From<FailureRow> for FailureRowJson {
    fn from(r: FailureRow) -> Self {
        FailureRowJson {
            phase: r.phase(),
            cause: r.cause.to_string(),
            group: r.group,
            profile: r.profile,
            endpoint: r.endpoint,
            count: r.count,
            share: r.share,
            rate_now: r.rate_now,
            first_seen_ms: r.first_seen_ms,
            last_seen_ms: r.last_seen_ms,
            sample: r.sample,
        }
    }
}

/// A failure row whose cause label this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {} cause {label:?}", .phase.label())]
pub struct UnknownCause {
    /// The row's phase.
    pub phase: FailPhase,
    /// The label as stored.
    pub label: String,
}

impl TryFrom<FailureRowJson> for FailureRow {
    type Error = UnknownCause;

    fn try_from(j: FailureRowJson) -> Result<Self, UnknownCause> {
        let cause = Cause::parse(j.phase, &j.cause).ok_or_else(|| UnknownCause {
            phase: j.phase,
            label: j.cause.clone(),
        })?;
        Ok(FailureRow {
            cause,
            group: j.group,
            profile: j.profile,
            endpoint: j.endpoint,
            count: j.count,
            share: j.share,
            rate_now: j.rate_now,
            first_seen_ms: j.first_seen_ms,
            last_seen_ms: j.last_seen_ms,
            sample: j.sample,
        })
    }
}

/// Connect time and outcomes of one fleet group or endpoint kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// Group name or endpoint kind label.
    pub name: String,
    /// Trust profile (groups only).
    pub profile: String,
    /// The group's link (groups only; empty or `loopback`: not emulated).
    #[serde(default)]
    pub link: String,
    /// connect_total over the run.
    pub connect_total: Stats,
    /// chain_validation over the run.
    pub chain_validation: Stats,
    /// Failed attempts (all phases but hold).
    pub failed: u64,
}

/// Where a run is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Before the first tick.
    #[default]
    Starting,
    /// Arrivals going on, the rate changing.
    Ramping,
    /// Arrivals going on at a constant rate.
    Steady,
    /// Every arrival started; sessions held.
    Holding,
    /// Arrivals paused from the UI.
    Paused,
    /// Stopped (signal, key or end): in-flight attempts finishing.
    Draining,
    /// Finished.
    Done,
}

impl RunState {
    /// snake_case name.
    pub fn label(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Ramping => "ramping",
            RunState::Steady => "steady",
            RunState::Holding => "holding",
            RunState::Paused => "paused",
            RunState::Draining => "draining",
            RunState::Done => "done",
        }
    }

    /// The state with this label.
    pub fn from_label(s: &str) -> Option<RunState> {
        [
            RunState::Starting,
            RunState::Ramping,
            RunState::Steady,
            RunState::Holding,
            RunState::Paused,
            RunState::Draining,
            RunState::Done,
        ]
        .into_iter()
        .find(|r| r.label() == s)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The state of a run at one tick.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// Planned duration, s.
    pub planned_s: f64,
    /// Where the run is.
    pub state: RunState,
    /// Attempts started.
    pub attempted: u64,
    /// Attempts succeeded.
    pub succeeded: u64,
    /// Attempts failed.
    pub failed: u64,
    /// Attempts neither succeeded nor failed yet.
    pub in_flight: u64,
    /// Devices connected now.
    pub connected: i64,
    /// Devices planned.
    pub planned_devices: u64,
    /// The arrival rate the plan intends now, per second (0 for a storm):
    /// next to `attempted_rate` it shows when the generator falls behind.
    pub target_rate: f64,
    /// Sessions the plan expects connected at once at the peak (Little's
    /// law per group: arrival rate × hold, at most the group's devices).
    pub planned_concurrency: u64,
    /// Attempts per second, last interval.
    pub attempted_rate: f64,
    /// Successes per second, last interval.
    pub succeeded_rate: f64,
    /// Failures per second, last interval.
    pub failed_rate: f64,
    /// Latency per phase.
    pub phases: Vec<PhaseRow>,
    /// Chain validation per matched anchor (path kind), whole run.
    pub anchors: Vec<(Anchor, Stats)>,
    /// Failures, largest first.
    pub failures: Vec<FailureRow>,
    /// Per fleet group.
    pub groups: Vec<BreakdownRow>,
    /// Per endpoint kind.
    pub endpoints: Vec<BreakdownRow>,
}

impl Snapshot {
    /// The row of a phase.
    pub fn phase(&self, p: Phase) -> Option<&PhaseRow> {
        self.phases.iter().find(|r| r.phase == p)
    }
}
