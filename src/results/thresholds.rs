//! Evaluating thresholds against everything a run recorded.

use crate::metrics::{histogram, Aggregate, FailPhase, Phase, Stat, Stats};
use crate::scenario::thresholds::{FailureStat, FilterKey, Total};
use crate::scenario::{Metric, Threshold};

use super::summary::{ThresholdResult, ValueUnit};

fn matches(filters: &[(FilterKey, String)], key: FilterKey, value: &str) -> bool {
    filters
        .iter()
        .filter(|(k, _)| *k == key)
        .all(|(_, v)| v == value)
}

/// Evaluates every threshold. `groups` maps group indices to names.
pub fn evaluate(ts: &[Threshold], agg: &Aggregate, groups: &[String]) -> Vec<ThresholdResult> {
    ts.iter()
        .map(|t| {
            let value = measure(&t.metric, agg, groups);
            ThresholdResult {
                key: t.key.clone(),
                condition: t.condition.clone(),
                value,
                pass: value.is_some_and(|v| t.op.holds(v, t.limit)),
                unit: Some(unit(&t.metric)),
                limit: Some(t.limit),
                on_percentile_plot: matches!(&t.metric, Metric::Latency { stat, filters, .. }
                    if filters.is_empty() && !matches!(stat, Stat::Count | Stat::Mean)),
            }
        })
        .collect()
}

/// The unit a metric's value is in.
fn unit(m: &Metric) -> ValueUnit {
    match m {
        Metric::Latency { stat, .. } if *stat != Stat::Count => ValueUnit::Nanoseconds,
        Metric::Failures {
            stat: FailureStat::Rate,
            ..
        } => ValueUnit::Fraction,
        _ => ValueUnit::Count,
    }
}

fn group_name(groups: &[String], i: u16) -> &str {
    groups.get(i as usize).map(String::as_str).unwrap_or("")
}

fn measure(m: &Metric, agg: &Aggregate, groups: &[String]) -> Option<f64> {
    match m {
        Metric::Latency {
            phase,
            stat,
            filters,
        } => {
            let phase = *phase;
            let mut h = histogram();
            for (k, s) in &agg.series {
                if k.phase == phase
                    && matches(filters, FilterKey::Group, group_name(groups, k.group))
                    && matches(filters, FilterKey::Endpoint, k.endpoint.label())
                    && matches(
                        filters,
                        FilterKey::Anchor,
                        k.anchor.map(|a| a.label()).unwrap_or(""),
                    )
                {
                    let _ = h.add(s);
                }
            }
            if h.is_empty() {
                return None;
            }
            Some(stat.of(&Stats::of(&h)))
        }
        Metric::Failures { stat, filters } => {
            let mut failed = 0u64;
            for (k, f) in &agg.failures {
                let counted_phase = if filters.iter().any(|(k, _)| *k == FilterKey::Phase) {
                    matches(filters, FilterKey::Phase, k.phase().label())
                } else {
                    // Hold failures are not attempt outcomes unless asked for.
                    k.phase() != FailPhase::Hold
                };
                if counted_phase
                    && matches(filters, FilterKey::Group, group_name(groups, k.group))
                    && matches(filters, FilterKey::Endpoint, k.endpoint.label())
                    && matches(filters, FilterKey::Cause, &k.cause.to_string())
                {
                    failed += f.count;
                }
            }
            if *stat == FailureStat::Count {
                return Some(failed as f64);
            }
            // Successes of the matching groups and endpoints: connect_total samples.
            let succeeded: u64 = agg
                .series
                .iter()
                .filter(|(k, _)| {
                    k.phase == Phase::ConnectTotal
                        && matches(filters, FilterKey::Group, group_name(groups, k.group))
                        && matches(filters, FilterKey::Endpoint, k.endpoint.label())
                })
                .map(|(_, h)| h.len())
                .sum();
            let finished = failed + succeeded;
            (finished > 0).then(|| failed as f64 / finished as f64)
        }
        Metric::Count(what) => Some(match what {
            Total::Succeeded => agg.counts.succeeded as f64,
            Total::Attempted => agg.counts.attempted as f64,
        }),
    }
}
