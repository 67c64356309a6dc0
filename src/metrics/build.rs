//! Building a [`Snapshot`] from the aggregate and the last interval. Runs
//! once per tick on the control thread, never on the hot path.

use std::collections::BTreeMap;

use super::{
    histogram, Aggregate, Anchor, BreakdownRow, EndpointKind, FailPhase, FailureRow, IntervalData,
    Phase, PhaseRow, Snapshot, Stats,
};

/// Group names and profiles, for labels.
pub struct Labels {
    /// Group names by index.
    pub groups: Vec<String>,
    /// Trust profile per group.
    pub profiles: Vec<String>,
    /// Link name per group (empty or `loopback`: not emulated).
    pub links: Vec<String>,
}

/// Builds a snapshot from the aggregate and the last interval.
pub fn build(
    agg: &Aggregate,
    interval: &IntervalData,
    interval_s: f64,
    labels: &Labels,
) -> Snapshot {
    let c = &agg.counts;
    let i = &interval.counts;
    let per_s = |n: u64| n as f64 / interval_s.max(1e-9);
    Snapshot {
        attempted: c.attempted,
        succeeded: c.succeeded,
        failed: c.failed(),
        in_flight: c
            .attempted
            .saturating_sub(c.succeeded + c.failed() + c.aborted),
        attempted_rate: per_s(i.attempted),
        succeeded_rate: per_s(i.succeeded),
        failed_rate: per_s(i.failed()),
        phases: phase_rows(agg, interval),
        anchors: anchors(agg),
        failures: failure_rows(agg, interval, interval_s, labels),
        groups: group_rows(agg, labels),
        endpoints: endpoint_rows(agg),
        ..Snapshot::default()
    }
}

/// Each phase over the run and over the last interval.
fn phase_rows(agg: &Aggregate, interval: &IntervalData) -> Vec<PhaseRow> {
    Phase::ALL
        .into_iter()
        .map(|phase| {
            let mut total = histogram();
            for (_, h) in agg.series.iter().filter(|(k, _)| k.phase == phase) {
                let _ = total.add(h);
            }
            let mut now = histogram();
            for (_, h) in interval.series.iter().filter(|(k, _)| k.phase == phase) {
                let _ = now.add(h);
            }
            PhaseRow {
                phase,
                interval: Stats::of(&now),
                total: Stats::of(&total),
            }
        })
        .collect()
}

/// Chain validation per anchor, over the run.
fn anchors(agg: &Aggregate) -> Vec<(Anchor, Stats)> {
    let mut by_anchor: BTreeMap<Anchor, hdrhistogram::Histogram<u64>> = BTreeMap::new();
    for (k, h) in agg
        .series
        .iter()
        .filter(|(k, _)| k.phase == Phase::ChainValidation)
    {
        if let Some(a) = k.anchor {
            let _ = by_anchor.entry(a).or_insert_with(histogram).add(h);
        }
    }
    by_anchor
        .into_iter()
        .map(|(a, h)| (a, Stats::of(&h)))
        .collect()
}

/// Every failure kind, most frequent first, with its share and its rate in
/// the last interval.
fn failure_rows(
    agg: &Aggregate,
    interval: &IntervalData,
    interval_s: f64,
    labels: &Labels,
) -> Vec<FailureRow> {
    let all_failures: u64 = agg.failures.values().map(|f| f.count).sum();
    let label = |v: &[String], g: u16| v.get(g as usize).cloned().unwrap_or_default();
    let mut failures: Vec<FailureRow> = agg
        .failures
        .iter()
        .map(|(k, f)| {
            let now = interval.failures.get(k).map(|x| x.count).unwrap_or(0);
            FailureRow {
                cause: k.cause.clone(),
                group: label(&labels.groups, k.group),
                profile: label(&labels.profiles, k.group),
                endpoint: k.endpoint,
                count: f.count,
                share: if all_failures > 0 {
                    f.count as f64 / all_failures as f64
                } else {
                    0.0
                },
                rate_now: now as f64 / interval_s.max(1e-9),
                first_seen_ms: f.first_seen_ms,
                last_seen_ms: f.last_seen_ms,
                sample: f.sample.clone(),
            }
        })
        .collect();
    failures.sort_by(|a, b| b.count.cmp(&a.count).then(a.cause.cmp(&b.cause)));
    failures
}

/// connect_total, chain_validation and failed attempts (hold failures
/// aside) of the series `pick` selects by group and endpoint.
fn breakdown(
    agg: &Aggregate,
    pick: impl Fn(u16, EndpointKind) -> bool,
    name: String,
    profile: String,
) -> BreakdownRow {
    let (mut ct, mut cv) = (histogram(), histogram());
    for (k, h) in agg.series.iter().filter(|(k, _)| pick(k.group, k.endpoint)) {
        match k.phase {
            Phase::ConnectTotal => {
                let _ = ct.add(h);
            }
            Phase::ChainValidation => {
                let _ = cv.add(h);
            }
            _ => {}
        }
    }
    let failed = agg
        .failures
        .iter()
        .filter(|(k, _)| k.phase() != FailPhase::Hold && pick(k.group, k.endpoint))
        .map(|(_, f)| f.count)
        .sum();
    BreakdownRow {
        name,
        profile,
        link: String::new(),
        connect_total: Stats::of(&ct),
        chain_validation: Stats::of(&cv),
        failed,
    }
}

fn group_rows(agg: &Aggregate, labels: &Labels) -> Vec<BreakdownRow> {
    (0..labels.groups.len())
        .map(|g| {
            let mut row = breakdown(
                agg,
                |k, _| usize::from(k) == g,
                labels.groups[g].clone(),
                labels.profiles.get(g).cloned().unwrap_or_default(),
            );
            row.link = labels.links.get(g).cloned().unwrap_or_default();
            row
        })
        .collect()
}

/// The endpoint kinds that saw a connect or a failure.
fn endpoint_rows(agg: &Aggregate) -> Vec<BreakdownRow> {
    [
        EndpointKind::Legacy,
        EndpointKind::AtsRsa,
        EndpointKind::AtsEcc,
        EndpointKind::Ats,
    ]
    .into_iter()
    .map(|e| breakdown(agg, |_, k| k == e, e.label().to_string(), String::new()))
    .filter(|r| r.connect_total.count > 0 || r.failed > 0)
    .collect()
}
