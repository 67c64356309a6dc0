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
}

/// Builds a snapshot from the aggregate and the last interval.
pub fn build(
    agg: &Aggregate,
    interval: &IntervalData,
    interval_s: f64,
    labels: &Labels,
) -> Snapshot {
    let mut phases = Vec::new();
    for phase in Phase::ALL {
        let mut total = histogram();
        for (_, h) in agg.series.iter().filter(|(k, _)| k.phase == phase) {
            let _ = total.add(h);
        }
        let mut now = histogram();
        for (_, h) in interval.series.iter().filter(|(k, _)| k.phase == phase) {
            let _ = now.add(h);
        }
        phases.push(PhaseRow {
            phase,
            interval: Stats::of(&now),
            total: Stats::of(&total),
        });
    }
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
    let anchors = by_anchor
        .into_iter()
        .map(|(a, h)| (a, Stats::of(&h)))
        .collect();
    let all_failures: u64 = agg.failures.values().map(|f| f.count).sum();
    let mut failures: Vec<FailureRow> = agg
        .failures
        .iter()
        .map(|(k, f)| {
            let now = interval.failures.get(k).map(|x| x.count).unwrap_or(0);
            FailureRow {
                cause: k.cause.clone(),
                group: labels
                    .groups
                    .get(k.group as usize)
                    .cloned()
                    .unwrap_or_default(),
                profile: labels
                    .profiles
                    .get(k.group as usize)
                    .cloned()
                    .unwrap_or_default(),
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
    let breakdown = |pick: &dyn Fn(u16, EndpointKind) -> bool, name: String, profile: String| {
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
            connect_total: Stats::of(&ct),
            chain_validation: Stats::of(&cv),
            failed,
        }
    };
    let groups = (0..labels.groups.len())
        .map(|g| {
            breakdown(
                &|k, _| usize::from(k) == g,
                labels.groups[g].clone(),
                labels.profiles.get(g).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let endpoints = [
        EndpointKind::Legacy,
        EndpointKind::AtsRsa,
        EndpointKind::AtsEcc,
        EndpointKind::Ats,
    ]
    .into_iter()
    .map(|e| breakdown(&|_, k| k == e, e.label().to_string(), String::new()))
    .filter(|r| r.connect_total.count > 0 || r.failed > 0)
    .collect();
    let c = &agg.counts;
    let i = &interval.counts;
    Snapshot {
        attempted: c.attempted,
        succeeded: c.succeeded,
        failed: c.failed(),
        in_flight: c
            .attempted
            .saturating_sub(c.succeeded + c.failed() + c.aborted),
        attempted_rate: i.attempted as f64 / interval_s.max(1e-9),
        succeeded_rate: i.succeeded as f64 / interval_s.max(1e-9),
        failed_rate: i.failed() as f64 / interval_s.max(1e-9),
        phases,
        anchors,
        failures,
        groups,
        endpoints,
        ..Snapshot::default()
    }
}
