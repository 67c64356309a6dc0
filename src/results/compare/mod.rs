//! `chainstorm compare`: base run(s) vs a new run, per phase × group ×
//! endpoint, with regression rules and a noise allowance from the spread of
//! several base runs. Series are matched by their parsed [`SeriesId`],
//! never by text prefix. Without rules, [`RuleSet::default_gate`] applies,
//! so a CI gate never passes with zero checks.

mod render;
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::metrics::Stat;
pub use render::{render_junit, render_markdown, render_text};
pub use rules::{parse_rule, FailureLimit, Rule, RuleSet, Rules};

use super::summary::{KeyStats, Summary};
use crate::metrics::{Anchor, EndpointKind, Phase};

/// Errors of `compare`'s inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// A rule given on the command line or in a file is malformed.
    #[error("{0}")]
    Rule(String),
    /// A rules file is not valid TOML or has unknown keys.
    #[error("{path}:{line}:{col}: {message}")]
    RulesFile {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// A rules file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Which series a row compares: a phase over the whole run, or one
/// phase × group × endpoint [× anchor] series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesId {
    /// Phase.
    pub phase: Phase,
    /// `None`: the whole run.
    pub scope: Option<Scope>,
}

/// A group × endpoint [× anchor] series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// Fleet group name.
    pub group: String,
    /// Endpoint kind.
    pub endpoint: EndpointKind,
    /// Anchor path kind (chain validation).
    pub anchor: Option<Anchor>,
}

impl SeriesId {
    fn of_phase(k: &KeyStats) -> SeriesId {
        SeriesId {
            phase: k.phase,
            scope: None,
        }
    }

    fn of_series(k: &KeyStats) -> Option<SeriesId> {
        Some(SeriesId {
            phase: k.phase,
            scope: Some(Scope {
                group: k.group.clone(),
                endpoint: k.endpoint?,
                anchor: k.anchor,
            }),
        })
    }
}

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            None => write!(f, "{}/all", self.phase.label()),
            Some(s) => {
                write!(
                    f,
                    "{}/{}/{}",
                    self.phase.label(),
                    s.group,
                    s.endpoint.label()
                )?;
                match &s.anchor {
                    Some(a) => write!(f, "/{a}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// One compared value.
#[derive(Clone, Debug)]
pub struct Row {
    /// The series.
    pub key: SeriesId,
    /// Statistic.
    pub stat: Stat,
    /// Base value (median of the bases), ns.
    pub base: f64,
    /// New value, ns.
    pub new: f64,
    /// Relative spread of the bases ((max - min) / median), 0 with one base.
    pub spread: f64,
    /// The rule's limit (relative increase), if a rule applies.
    pub limit: Option<f64>,
    /// The limit after the noise allowance (`max(limit, spread)` when
    /// noise-aware), if a rule applies.
    pub allowed: Option<f64>,
    /// Broken?
    pub failed: bool,
}

impl Row {
    /// new - base.
    pub fn delta(&self) -> f64 {
        self.new - self.base
    }

    /// (new - base) / base.
    pub fn relative(&self) -> f64 {
        if self.base > 0.0 {
            self.delta() / self.base
        } else {
            0.0
        }
    }
}

/// Which side a series is missing from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// Only the new run has it.
    NewOnly,
    /// Only the base runs have it.
    BaseOnly,
}

/// A comparison.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Rows (all keys × stats present in both).
    pub rows: Vec<Row>,
    /// Failure rate of the bases (median) and of the new run.
    pub failure_rate: (f64, f64),
    /// Failure-rate limit (absolute, after applying the rule to the base)
    /// and whether it held.
    pub failure_rule: Option<(f64, bool)>,
    /// Series only on one side.
    pub unmatched: Vec<(SeriesId, Side)>,
    /// The rules applied were the default gate (no rule was given).
    pub default_rules: bool,
    /// How long the comparison took, s (JUnit's `time`).
    pub seconds: f64,
    /// When it ran (JUnit's `timestamp`).
    pub at: time::OffsetDateTime,
}

impl Comparison {
    /// Whether any rule broke.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.failed) || self.failure_rule.is_some_and(|(_, ok)| !ok)
    }

    /// Checks made: ruled rows plus the failure-rate rule.
    pub fn checks(&self) -> usize {
        self.rows.iter().filter(|r| r.limit.is_some()).count()
            + usize::from(self.failure_rule.is_some())
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn failure_rate(s: &Summary) -> f64 {
    let finished = s.totals.succeeded + s.totals.failed;
    if finished == 0 {
        0.0
    } else {
        s.totals.failed as f64 / finished as f64
    }
}

/// Series of the whole run per phase, then per group × endpoint.
fn index(s: &Summary) -> BTreeMap<SeriesId, KeyStats> {
    let phases = s.phases.iter().map(|k| (SeriesId::of_phase(k), k.clone()));
    let series = s
        .keys
        .iter()
        .filter_map(|k| Some((SeriesId::of_series(k)?, k.clone())));
    phases.chain(series).collect()
}

/// Compares `new` with one or more `bases` under `rules`.
pub fn compare(bases: &[Summary], new: &Summary, rules: &RuleSet) -> Comparison {
    let started = std::time::Instant::now();
    let new_idx = index(new);
    let base_idx: Vec<_> = bases.iter().map(index).collect();
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for (key, nk) in &new_idx {
        let present: Vec<&KeyStats> = base_idx.iter().filter_map(|m| m.get(key)).collect();
        if present.is_empty() {
            unmatched.push((key.clone(), Side::NewOnly));
            continue;
        }
        if nk.stats.count == 0 || present.iter().all(|k| k.stats.count == 0) {
            continue;
        }
        for st in Stat::PERCENTILES {
            rows.push(row(key, st, nk, &present, rules));
        }
    }
    let base_keys: BTreeSet<&SeriesId> = base_idx.iter().flat_map(|m| m.keys()).collect();
    for key in base_keys {
        if !new_idx.contains_key(key) {
            unmatched.push((key.clone(), Side::BaseOnly));
        }
    }
    let fr_new = failure_rate(new);
    let fr_base = median(bases.iter().map(failure_rate).collect());
    let failure_rule = rules.max_failure_rate.map(|l| {
        let limit = l.absolute(fr_base);
        (limit, fr_new <= limit)
    });
    Comparison {
        rows,
        failure_rate: (fr_base, fr_new),
        failure_rule,
        unmatched,
        default_rules: rules.is_default,
        seconds: started.elapsed().as_secs_f64(),
        at: time::OffsetDateTime::now_utc(),
    }
}

fn row(key: &SeriesId, st: Stat, nk: &KeyStats, present: &[&KeyStats], rules: &RuleSet) -> Row {
    let vals: Vec<f64> = present.iter().map(|k| k.stat(st)).collect();
    let base = median(vals.clone());
    let spread = if vals.len() > 1 && base > 0.0 {
        (vals.iter().cloned().fold(f64::MIN, f64::max)
            - vals.iter().cloned().fold(f64::MAX, f64::min))
            / base
    } else {
        0.0
    };
    let limit = rules
        .rules
        .iter()
        .find(|r| r.phase == key.phase && r.stat == st)
        .map(|r| r.max);
    // Noise allowance: the change must also exceed what the base runs
    // disagree about among themselves.
    let allowed = limit.map(|max| {
        if rules.noise_aware {
            max.max(spread)
        } else {
            max
        }
    });
    let mut row = Row {
        key: key.clone(),
        stat: st,
        base,
        new: nk.stat(st),
        spread,
        limit,
        allowed,
        failed: false,
    };
    row.failed = allowed.is_some_and(|a| row.relative() > a);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(phase: &str, group: &str, endpoint: &str, p99: u64) -> KeyStats {
        KeyStats {
            phase: Phase::from_label(phase).unwrap(),
            group: group.into(),
            endpoint: EndpointKind::from_label(endpoint),
            anchor: None,
            stats: crate::metrics::Stats {
                count: 10,
                p50: p99,
                p90: p99,
                p99,
                p999: p99,
                max: p99,
                mean: p99 as f64,
            },
        }
    }

    fn summary(keys: Vec<KeyStats>) -> Summary {
        Summary {
            keys,
            ..Summary::default()
        }
    }

    /// A base-only `…/ats` series must not hide behind a new-only
    /// `…/ats-rsa` one (a text-prefix match once made it vanish).
    #[test]
    fn series_match_by_parsed_key_not_prefix() {
        let base = summary(vec![ks("connect_total", "g", "ats", 100)]);
        let new = summary(vec![ks("connect_total", "g", "ats-rsa", 100)]);
        let c = compare(&[base], &new, &RuleSet::default_gate());
        let names: Vec<String> = c
            .unmatched
            .iter()
            .map(|(k, s)| format!("{k} {s:?}"))
            .collect();
        assert_eq!(
            names,
            [
                "connect_total/g/ats-rsa NewOnly",
                "connect_total/g/ats BaseOnly"
            ]
        );
    }

    #[test]
    fn default_gate_checks_p99_and_failure_rate() {
        let base = summary(vec![ks("connect_total", "g", "ats-rsa", 100)]);
        let new = summary(vec![ks("connect_total", "g", "ats-rsa", 130)]);
        let c = compare(&[base], &new, &RuleSet::default_gate());
        assert!(c.default_rules);
        assert!(c.failed(), "+30 % p99 breaks the default 10 % rule");
        assert_eq!(c.checks(), 2, "one p99 row and the failure-rate rule");
    }
}
