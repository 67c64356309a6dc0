//! Regression rules: `PHASE.STAT=PCT` from flags or a TOML file, a
//! failure-rate limit, the noise allowance, and the default gate.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::CompareError;
use crate::metrics::{Phase, Stat};

/// Regression rules as a TOML file writes them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// `"connect_total.p99" = "10%"`: the largest allowed relative increase.
    #[serde(default)]
    pub max_regression: BTreeMap<String, String>,
    /// Largest allowed failure rate of the new run, e.g. `"0.5%"`.
    pub max_failure_rate: Option<String>,
    /// Require a regression to exceed the spread of the base runs too.
    #[serde(default)]
    pub noise_aware: bool,
}

/// A parsed regression rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// Phase.
    pub phase: Phase,
    /// Statistic.
    pub stat: Stat,
    /// Allowed relative increase (0.1 = 10 %).
    pub max: f64,
}

/// The failure-rate rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FailureLimit {
    /// The new run's failure rate must not exceed this fraction.
    Absolute(f64),
    /// …must not exceed the bases' (median) rate plus this fraction.
    AboveBase(f64),
}

impl FailureLimit {
    /// The limit as a fraction, given the bases' failure rate.
    pub fn absolute(self, base: f64) -> f64 {
        match self {
            FailureLimit::Absolute(x) => x,
            FailureLimit::AboveBase(x) => base + x,
        }
    }
}

/// Everything `compare` checks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSet {
    /// Regression rules.
    pub rules: Vec<Rule>,
    /// Failure-rate rule.
    pub max_failure_rate: Option<FailureLimit>,
    /// Noise allowance on.
    pub noise_aware: bool,
    /// True for [`RuleSet::default_gate`].
    pub is_default: bool,
}

/// The phases the default gate checks at p99.
const GATED: [Phase; 5] = [
    Phase::TcpConnect,
    Phase::TlsHandshake,
    Phase::ChainValidation,
    Phase::MqttConnack,
    Phase::ConnectTotal,
];

impl RuleSet {
    /// The gate `compare` applies when no rule is given: p99 of every
    /// connect phase may rise by at most 10 % (or by the bases' spread,
    /// whichever is larger), and the failure rate by at most 0.5
    /// percentage points over the bases'.
    pub fn default_gate() -> RuleSet {
        RuleSet {
            rules: GATED
                .iter()
                .map(|&phase| Rule {
                    phase,
                    stat: Stat::P99,
                    max: 0.10,
                })
                .collect(),
            max_failure_rate: Some(FailureLimit::AboveBase(0.005)),
            noise_aware: true,
            is_default: true,
        }
    }

    /// True when nothing is checked.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.max_failure_rate.is_none()
    }
}

fn pct(s: &str) -> Result<f64, CompareError> {
    let t = s.trim();
    let v = t.strip_suffix('%').unwrap_or(t);
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| CompareError::Rule(format!("{s:?} is not a percentage such as 10%")))?;
    if !x.is_finite() || x < 0.0 {
        return Err(CompareError::Rule(format!(
            "{s:?} must be a percentage >= 0"
        )));
    }
    Ok(if t.ends_with('%') { x / 100.0 } else { x })
}

/// Parses `PHASE.STAT=PCT`.
pub fn parse_rule(s: &str) -> Result<Rule, CompareError> {
    let bad = |m: String| CompareError::Rule(m);
    let (k, v) = s.split_once('=').ok_or_else(|| {
        bad(format!(
            "{s:?}: expected PHASE.STAT=PCT, e.g. connect_total.p99=10%"
        ))
    })?;
    let (phase, stat) = k.trim().split_once('.').ok_or_else(|| {
        bad(format!(
            "{k:?}: expected PHASE.STAT, e.g. connect_total.p99"
        ))
    })?;
    let phase = Phase::from_label(phase).ok_or_else(|| {
        bad(format!(
            "{phase:?} is not a phase (connect_total, tls_handshake, chain_validation, ...)"
        ))
    })?;
    let stat = Stat::from_label(stat)
        .filter(|s| Stat::PERCENTILES.contains(s))
        .ok_or_else(|| bad(format!("{stat:?}: expected one of p50, p90, p99, p99.9")))?;
    Ok(Rule {
        phase,
        stat,
        max: pct(v)?,
    })
}

impl Rules {
    /// Reads a rules file; errors name the file, line and column.
    pub fn from_file(path: &Path) -> Result<Rules, CompareError> {
        let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str::<Rules>(&text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| crate::scenario::line_col(&text, s.start))
                .unwrap_or((1, 1));
            CompareError::RulesFile {
                path: path.display().to_string(),
                line,
                col,
                message: e.message().trim().replace('\n', "; "),
            }
        })
    }

    /// The rule set these rules describe.
    pub fn parse(&self) -> Result<RuleSet, CompareError> {
        let rules = self
            .max_regression
            .iter()
            .map(|(k, v)| parse_rule(&format!("{k}={v}")))
            .collect::<Result<Vec<_>, _>>()?;
        let max_failure_rate = self
            .max_failure_rate
            .as_deref()
            .map(pct)
            .transpose()?
            .map(FailureLimit::Absolute);
        Ok(RuleSet {
            rules,
            max_failure_rate,
            noise_aware: self.noise_aware,
            is_default: false,
        })
    }
}
