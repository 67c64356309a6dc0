//! `chainstorm compare`: base run(s) vs a new run, per phase × group ×
//! endpoint, with regression rules and a noise allowance from the spread of
//! several base runs.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Deserialize;

use super::summary::{KeyStats, Summary};

/// The statistics compared.
pub const STATS: [&str; 4] = ["p50", "p90", "p99", "p99.9"];

/// Regression rules.
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
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Phase label.
    pub phase: String,
    /// Statistic.
    pub stat: String,
    /// Allowed relative increase (0.1 = 10 %).
    pub max: f64,
}

fn pct(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = t.strip_suffix('%').unwrap_or(t);
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage such as 10%"))?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!("{s:?} must be a percentage >= 0"));
    }
    Ok(if t.ends_with('%') { x / 100.0 } else { x })
}

/// Parses `PHASE.STAT=PCT`.
pub fn parse_rule(s: &str) -> Result<Rule, String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected PHASE.STAT=PCT, e.g. connect_total.p99=10%"))?;
    let (phase, stat) = k
        .trim()
        .split_once('.')
        .ok_or_else(|| format!("{k:?}: expected PHASE.STAT, e.g. connect_total.p99"))?;
    if crate::metrics::Phase::from_label(phase).is_none() {
        return Err(format!(
            "{phase:?} is not a phase (connect_total, tls_handshake, chain_validation, ...)"
        ));
    }
    if !STATS.contains(&stat) {
        return Err(format!("{stat:?}: expected one of p50, p90, p99, p99.9"));
    }
    Ok(Rule {
        phase: phase.into(),
        stat: stat.into(),
        max: pct(v)?,
    })
}

impl Rules {
    /// The parsed regression rules and failure-rate limit.
    pub fn parse(&self) -> Result<(Vec<Rule>, Option<f64>), String> {
        let rules = self
            .max_regression
            .iter()
            .map(|(k, v)| parse_rule(&format!("{k}={v}")))
            .collect::<Result<Vec<_>, _>>()?;
        let fr = self.max_failure_rate.as_deref().map(pct).transpose()?;
        Ok((rules, fr))
    }
}

/// One compared value.
#[derive(Clone, Debug)]
pub struct Row {
    /// `phase/group/endpoint[/anchor]`.
    pub key: String,
    /// Phase label.
    pub phase: String,
    /// Statistic.
    pub stat: String,
    /// Base value (median of the bases), ns.
    pub base: f64,
    /// New value, ns.
    pub new: f64,
    /// Relative spread of the bases ((max - min) / median), 0 with one base.
    pub spread: f64,
    /// The rule that applies, if any.
    pub limit: Option<f64>,
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

/// A comparison.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Rows (all keys × stats present in both).
    pub rows: Vec<Row>,
    /// Failure rate of the bases (median) and of the new run.
    pub failure_rate: (f64, f64),
    /// Failure-rate limit and whether it held.
    pub failure_rule: Option<(f64, bool)>,
    /// Keys only in one side.
    pub unmatched: Vec<String>,
}

impl Comparison {
    /// Whether any rule broke.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.failed) || self.failure_rule.is_some_and(|(_, ok)| !ok)
    }
}

fn key_of(k: &KeyStats) -> String {
    let mut s = format!("{}/{}/{}", k.phase, k.group, k.endpoint);
    if let Some(a) = &k.anchor {
        s.push('/');
        s.push_str(a);
    }
    s
}

fn stat(k: &KeyStats, s: &str) -> f64 {
    match s {
        "p50" => k.p50 as f64,
        "p90" => k.p90 as f64,
        "p99" => k.p99 as f64,
        _ => k.p999 as f64,
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

/// Compares `new` with one or more `bases` under `rules`.
pub fn compare(
    bases: &[Summary],
    new: &Summary,
    rules: &[Rule],
    max_failure_rate: Option<f64>,
    noise_aware: bool,
) -> Comparison {
    // Series of the whole run per phase, then per group × endpoint.
    let index = |s: &Summary| -> BTreeMap<String, KeyStats> {
        let mut m: BTreeMap<String, KeyStats> = s
            .phases
            .iter()
            .map(|k| (format!("{}/all", k.phase), k.clone()))
            .collect();
        for k in &s.keys {
            m.insert(key_of(k), k.clone());
        }
        m
    };
    let new_idx = index(new);
    let base_idx: Vec<_> = bases.iter().map(index).collect();
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for (key, nk) in &new_idx {
        let present: Vec<&KeyStats> = base_idx.iter().filter_map(|m| m.get(key)).collect();
        if present.is_empty() {
            unmatched.push(format!("{key} (new only)"));
            continue;
        }
        if nk.count == 0 || present.iter().all(|k| k.count == 0) {
            continue;
        }
        for st in STATS {
            let vals: Vec<f64> = present.iter().map(|k| stat(k, st)).collect();
            let base = median(vals.clone());
            let spread = if vals.len() > 1 && base > 0.0 {
                (vals.iter().cloned().fold(f64::MIN, f64::max)
                    - vals.iter().cloned().fold(f64::MAX, f64::min))
                    / base
            } else {
                0.0
            };
            let limit = rules
                .iter()
                .find(|r| r.phase == nk.phase && r.stat == st)
                .map(|r| r.max);
            let new_v = stat(nk, st);
            let mut row = Row {
                key: key.clone(),
                phase: nk.phase.clone(),
                stat: st.into(),
                base,
                new: new_v,
                spread,
                limit,
                failed: false,
            };
            if let Some(max) = limit {
                // Noise allowance: the change must also exceed what the base
                // runs disagree about among themselves.
                let allowed = if noise_aware { max.max(spread) } else { max };
                row.failed = row.relative() > allowed;
            }
            rows.push(row);
        }
    }
    for m in &base_idx {
        for key in m.keys() {
            if !new_idx.contains_key(key) && !unmatched.iter().any(|u| u.starts_with(key.as_str()))
            {
                unmatched.push(format!("{key} (base only)"));
            }
        }
    }
    let fr_new = failure_rate(new);
    let fr_base = median(bases.iter().map(failure_rate).collect());
    Comparison {
        rows,
        failure_rate: (fr_base, fr_new),
        failure_rule: max_failure_rate.map(|m| (m, fr_new <= m)),
        unmatched,
    }
}

fn dur(ns: f64) -> String {
    if ns.abs() >= 1e9 {
        format!("{:.2}s", ns / 1e9)
    } else if ns.abs() >= 1e6 {
        format!("{:.2}ms", ns / 1e6)
    } else if ns.abs() >= 1e3 {
        format!("{:.1}µs", ns / 1e3)
    } else {
        format!("{ns:.0}ns")
    }
}

fn verdict(r: &Row) -> &'static str {
    match (r.limit, r.failed) {
        (None, _) => "",
        (Some(_), false) => "ok",
        (Some(_), true) => "REGRESSION",
    }
}

/// A terminal table (`ruled_only`: only rows a rule applies to).
pub fn render_text(c: &Comparison, ruled_only: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<58} {:<6} {:>10} {:>10} {:>10} {:>8} {:>7} {:>6}  verdict",
        "series", "stat", "base", "new", "delta", "rel", "spread", "limit"
    );
    for r in c.rows.iter().filter(|r| !ruled_only || r.limit.is_some()) {
        let _ = writeln!(
            o,
            "{:<58} {:<6} {:>10} {:>10} {:>10} {:>+7.1}% {:>6.1}% {:>6}  {}",
            r.key,
            r.stat,
            dur(r.base),
            dur(r.new),
            dur(r.delta()),
            r.relative() * 100.0,
            r.spread * 100.0,
            r.limit
                .map(|l| format!("{:.0}%", l * 100.0))
                .unwrap_or_default(),
            verdict(r)
        );
    }
    let (b, n) = c.failure_rate;
    let _ = write!(
        o,
        "failure rate: base {:.3}%, new {:.3}%",
        b * 100.0,
        n * 100.0
    );
    if let Some((m, ok)) = c.failure_rule {
        let _ = write!(
            o,
            " (limit {:.3}%: {})",
            m * 100.0,
            if ok { "ok" } else { "EXCEEDED" }
        );
    }
    let _ = writeln!(o);
    let broken = c.rows.iter().filter(|r| r.failed).count()
        + usize::from(c.failure_rule.is_some_and(|(_, ok)| !ok));
    let _ = writeln!(
        o,
        "{}",
        if broken == 0 {
            "compare: no regression".to_string()
        } else {
            format!("compare: {broken} rule(s) broken")
        }
    );
    o
}

/// Markdown, for a CI comment.
pub fn render_markdown(c: &Comparison, ruled_only: bool) -> String {
    let mut o = String::from("| series | stat | base | new | delta | rel | spread | limit | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in c.rows.iter().filter(|r| !ruled_only || r.limit.is_some()) {
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} | {:+.1}% | {:.1}% | {} | {} |",
            r.key,
            r.stat,
            dur(r.base),
            dur(r.new),
            dur(r.delta()),
            r.relative() * 100.0,
            r.spread * 100.0,
            r.limit
                .map(|l| format!("{:.0}%", l * 100.0))
                .unwrap_or_default(),
            if r.failed {
                "**REGRESSION**"
            } else {
                verdict(r)
            }
        );
    }
    let (b, n) = c.failure_rate;
    let _ = writeln!(
        o,
        "\nFailure rate: base {:.3}%, new {:.3}%.",
        b * 100.0,
        n * 100.0
    );
    let _ = writeln!(
        o,
        "\n**{}**",
        if c.failed() {
            "Regression: at least one rule broken."
        } else {
            "No regression."
        }
    );
    o
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test case per ruled row (and the failure-rate rule).
pub fn render_junit(c: &Comparison) -> String {
    let ruled: Vec<&Row> = c.rows.iter().filter(|r| r.limit.is_some()).collect();
    let mut cases = String::new();
    let mut failures = 0;
    for r in &ruled {
        let name = xml(&format!("{}.{}", r.key, r.stat));
        if r.failed {
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"chainstorm.compare\" name=\"{name}\"><failure message=\"{}\"/></testcase>",
                xml(&format!(
                    "{} -> {} ({:+.1}%, limit {:.0}%)",
                    dur(r.base),
                    dur(r.new),
                    r.relative() * 100.0,
                    r.limit.unwrap_or(0.0) * 100.0
                ))
            );
        } else {
            let _ = writeln!(
                cases,
                "    <testcase classname=\"chainstorm.compare\" name=\"{name}\"/>"
            );
        }
    }
    let mut tests = ruled.len();
    if let Some((m, ok)) = c.failure_rule {
        tests += 1;
        if ok {
            let _ = writeln!(
                cases,
                "    <testcase classname=\"chainstorm.compare\" name=\"failure_rate\"/>"
            );
        } else {
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"chainstorm.compare\" name=\"failure_rate\"><failure message=\"{:.3}% &gt; {:.3}%\"/></testcase>",
                c.failure_rate.1 * 100.0,
                m * 100.0
            );
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{tests}\" failures=\"{failures}\">\n  <testsuite name=\"chainstorm compare\" tests=\"{tests}\" failures=\"{failures}\">\n{cases}  </testsuite>\n</testsuites>\n"
    )
}
