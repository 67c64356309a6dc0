//! Pass/fail rules in the k6 spirit:
//! `"connect_total.p99" = "< 250ms"`, `"failures.rate" = "< 0.5%"`,
//! `"chain_validation{anchor=legacy-rsa}.p50" = "< 300us"`.

use serde::Serialize;

use crate::metrics::Stat;

/// Comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// Applies the operator.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
        }
    }
}

/// What `failures.*` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureStat {
    /// Failed / finished attempts.
    Rate,
    /// Failures.
    Count,
}

/// What `*.count` of the totals counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Total {
    /// `succeeded.count`.
    Succeeded,
    /// `attempted.count`.
    Attempted,
}

/// A key filter: `{group=…}`, `{endpoint=…}`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKey {
    /// Fleet group name.
    Group,
    /// Endpoint kind label.
    Endpoint,
    /// Anchor path kind (chain validation).
    Anchor,
    /// Failure phase.
    Phase,
    /// Failure cause label.
    Cause,
}

impl FilterKey {
    fn from_label(s: &str) -> Option<FilterKey> {
        Some(match s {
            "group" => FilterKey::Group,
            "endpoint" => FilterKey::Endpoint,
            "anchor" => FilterKey::Anchor,
            "phase" => FilterKey::Phase,
            "cause" => FilterKey::Cause,
            _ => return None,
        })
    }
}

/// What a rule measures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Metric {
    /// A latency statistic of a phase, over the series that match the filters.
    Latency {
        /// Phase.
        phase: crate::metrics::Phase,
        /// Statistic.
        stat: Stat,
        /// `group=`, `endpoint=`, `anchor=` filters.
        filters: Vec<(FilterKey, String)>,
    },
    /// `failures.rate` (fraction of finished attempts) or `failures.count`.
    Failures {
        /// Which.
        stat: FailureStat,
        /// `group=`, `endpoint=`, `phase=`, `cause=` filters.
        filters: Vec<(FilterKey, String)>,
    },
    /// `succeeded.count`, `attempted.count`.
    Count(Total),
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Threshold {
    /// The key as written.
    pub key: String,
    /// The condition as written.
    pub condition: String,
    /// Parsed metric.
    pub metric: Metric,
    /// Operator.
    pub op: Op,
    /// Limit, in ns for durations, a fraction for percentages.
    pub limit: f64,
}

/// A threshold rule that does not parse; the message says what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidThreshold {
    /// The key (`METRIC{filters}.STAT`) is malformed.
    #[error("threshold key {key:?}: {problem}")]
    Key {
        /// The key as written.
        key: String,
        /// What is wrong with it.
        problem: KeyProblem,
    },
    /// The condition (`OP VALUE`) is malformed.
    #[error("threshold {key:?} = {condition:?}: {problem}")]
    Condition {
        /// The key as written.
        key: String,
        /// The condition as written.
        condition: String,
        /// What is wrong with it.
        problem: ConditionProblem,
    },
}

/// What is wrong with a threshold key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// No `.STAT`.
    #[error("expected METRIC.STAT, e.g. connect_total.p99")]
    NoStat,
    /// A dotted statistic (`p99.9`) without a metric before it.
    #[error("bad statistic")]
    BadStat,
    /// `{` without `}`.
    #[error("unclosed {{")]
    Unclosed,
    /// A filter that is not `key=value`.
    #[error("filter {0:?} is not key=value")]
    FilterNotKeyValue(String),
    /// A filter key not in [`FilterKey`].
    #[error("unknown filter {0:?} (expected group, endpoint, anchor, phase, cause)")]
    UnknownFilter(String),
    /// `failures.X` with X not rate or count.
    #[error("failures.{0}: expected rate or count")]
    FailureStat(String),
    /// `succeeded`/`attempted` with anything but `.count` and no filters.
    #[error("expected {0}.count")]
    CountOnly(&'static str),
    /// A latency statistic that is not known.
    #[error("unknown statistic {0:?} (expected p50, p90, p99, p99.9, max, mean, count)")]
    UnknownStat(String),
    /// A metric that is neither a phase nor a total.
    #[error("unknown metric {0:?} (expected a phase such as connect_total, or failures, succeeded, attempted)")]
    UnknownMetric(String),
}

/// What is wrong with a threshold condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConditionProblem {
    /// No `<`, `<=`, `>` or `>=`.
    #[error("expected an operator <, <=, > or >=")]
    NoOperator,
    /// The value is not a number in the metric's unit.
    #[error("bad value {0:?}")]
    BadValue(String),
}

/// Parses a rule; the error says what was expected.
pub fn parse(key: &str, condition: &str) -> Result<Threshold, InvalidThreshold> {
    let bad_key = |problem: KeyProblem| InvalidThreshold::Key {
        key: key.to_string(),
        problem,
    };
    let bad_condition = |problem: ConditionProblem| InvalidThreshold::Condition {
        key: key.to_string(),
        condition: condition.to_string(),
        problem,
    };
    let (name, stat) = key
        .rsplit_once('.')
        .filter(|(n, _)| !n.is_empty())
        .ok_or_else(|| bad_key(KeyProblem::NoStat))?;
    // "p99.9" contains a dot: re-split when the stat would be "9".
    let (name, stat) = if stat.chars().all(|c| c.is_ascii_digit()) {
        let (n, s) = name
            .rsplit_once('.')
            .ok_or_else(|| bad_key(KeyProblem::BadStat))?;
        (n, format!("{s}.{stat}"))
    } else {
        (name, stat.to_string())
    };
    let (base, filters) = match name.split_once('{') {
        Some((b, rest)) => {
            let inner = rest
                .strip_suffix('}')
                .ok_or_else(|| bad_key(KeyProblem::Unclosed))?;
            let mut f = Vec::new();
            for part in inner.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = part
                    .split_once('=')
                    .ok_or_else(|| bad_key(KeyProblem::FilterNotKeyValue(part.to_string())))?;
                let k = k.trim();
                let Some(fk) = FilterKey::from_label(k) else {
                    return Err(bad_key(KeyProblem::UnknownFilter(k.to_string())));
                };
                f.push((fk, v.trim().to_string()));
            }
            (b, f)
        }
        None => (name, Vec::new()),
    };
    let metric = match base {
        "failures" => {
            let stat = match stat.as_str() {
                "rate" => FailureStat::Rate,
                "count" => FailureStat::Count,
                _ => return Err(bad_key(KeyProblem::FailureStat(stat))),
            };
            Metric::Failures { stat, filters }
        }
        "succeeded" | "attempted" => {
            let (label, total) = if base == "succeeded" {
                ("succeeded", Total::Succeeded)
            } else {
                ("attempted", Total::Attempted)
            };
            if stat != "count" || !filters.is_empty() {
                return Err(bad_key(KeyProblem::CountOnly(label)));
            }
            Metric::Count(total)
        }
        name => match crate::metrics::Phase::from_label(name) {
            Some(phase) => {
                let Some(stat) = Stat::from_label(&stat) else {
                    return Err(bad_key(KeyProblem::UnknownStat(stat)));
                };
                Metric::Latency {
                    phase,
                    stat,
                    filters,
                }
            }
            None => return Err(bad_key(KeyProblem::UnknownMetric(name.to_string()))),
        },
    };
    let c = condition.trim();
    let (op, rest) = if let Some(r) = c.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = c.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = c.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = c.strip_prefix('>') {
        (Op::Gt, r)
    } else {
        return Err(bad_condition(ConditionProblem::NoOperator));
    };
    let limit = parse_value(rest.trim(), &metric)
        .ok_or_else(|| bad_condition(ConditionProblem::BadValue(rest.trim().to_string())))?;
    Ok(Threshold {
        key: key.to_string(),
        condition: condition.to_string(),
        metric,
        op,
        limit,
    })
}

/// Durations become ns, percentages fractions; counts stay plain.
fn parse_value(s: &str, m: &Metric) -> Option<f64> {
    let num = |t: &str| t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let is_duration = matches!(m, Metric::Latency { stat, .. } if *stat != Stat::Count);
    if is_duration {
        for (suffix, scale) in [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
        ] {
            if let Some(v) = s.strip_suffix(suffix) {
                // "ms" also ends in "s": take the longest matching suffix first.
                if suffix == "s"
                    && (s.ends_with("ms")
                        || s.ends_with("us")
                        || s.ends_with("ns")
                        || s.ends_with("µs"))
                {
                    continue;
                }
                return num(v).map(|x| x * scale);
            }
        }
        return None;
    }
    match s.strip_suffix('%') {
        Some(v) => num(v).map(|x| x / 100.0),
        None => num(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = parse("connect_total.p99", "< 250ms").unwrap();
        assert_eq!(t.op, Op::Lt);
        assert_eq!(t.limit, 250e6);
        let t = parse("failures.rate", "< 0.5%").unwrap();
        assert_eq!(t.limit, 0.005);
        let t = parse("chain_validation{anchor=legacy-rsa}.p50", "< 300us").unwrap();
        assert_eq!(t.limit, 300e3);
        assert!(
            matches!(t.metric, Metric::Latency { ref filters, .. } if filters == &[(FilterKey::Anchor, "legacy-rsa".to_string())])
        );
        let t = parse("tls_handshake.p99.9", "<= 2s").unwrap();
        assert!(matches!(t.metric, Metric::Latency { ref stat, .. } if *stat == Stat::P999));
        assert_eq!(t.limit, 2e9);
        assert_eq!(parse("succeeded.count", ">= 100").unwrap().limit, 100.0);
    }

    #[test]
    fn errors_say_what_was_expected() {
        let key = |k: &str, c: &str| match parse(k, c).unwrap_err() {
            InvalidThreshold::Key { problem, .. } => Some(problem),
            InvalidThreshold::Condition { .. } => None,
        };
        let condition = |k: &str, c: &str| match parse(k, c).unwrap_err() {
            InvalidThreshold::Condition { problem, .. } => Some(problem),
            InvalidThreshold::Key { .. } => None,
        };
        assert_eq!(
            key("connect_total.p42", "< 1ms"),
            Some(KeyProblem::UnknownStat("p42".into()))
        );
        assert_eq!(
            key("latency.p99", "< 1ms"),
            Some(KeyProblem::UnknownMetric("latency".into()))
        );
        assert_eq!(
            condition("connect_total.p99", "250ms"),
            Some(ConditionProblem::NoOperator)
        );
        assert_eq!(
            condition("connect_total.p99", "< fast"),
            Some(ConditionProblem::BadValue("fast".into()))
        );
        assert_eq!(
            key("connect_total{zone=a}.p99", "< 1ms"),
            Some(KeyProblem::UnknownFilter("zone".into()))
        );
        // The message keeps the key and says what was expected.
        let e = parse("connect_total.p42", "< 1ms").unwrap_err().to_string();
        assert!(
            e.starts_with("threshold key \"connect_total.p42\": unknown statistic"),
            "{e}"
        );
    }
}
