//! `chainstorm compare BASE... NEW`.

use std::process::ExitCode;

use anyhow::{Context, Result};

use chainstorm::results::compare::{self, parse_rule, RuleSet, Rules};
use chainstorm::results::Summary;

use crate::args::CompareArgs;

/// Compares runs; exit 1 when a rule broke.
pub fn compare(a: CompareArgs) -> Result<ExitCode> {
    let rules = rule_set(&a)?;
    let (new_path, base_paths) = a.runs.split_last().context("compare needs two runs")?;
    let new = Summary::read(new_path)?;
    let bases = base_paths
        .iter()
        .map(|p| Summary::read(p).map_err(anyhow::Error::from))
        .collect::<Result<Vec<_>>>()?;
    let c = compare::compare(&bases, &new, &rules);
    if let Some(out) = &a.html {
        chainstorm::results::report::compare_html(base_paths, new_path, out)?;
        eprintln!("wrote {}", out.display());
    }
    let ruled_only = !a.all;
    let text = match a.format.as_str() {
        "md" => compare::render_markdown(&c, ruled_only),
        "junit" => compare::render_junit(&c),
        _ => compare::render_text(&c, ruled_only),
    };
    outln!("{text}");
    Ok(if c.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The rules from the file and the flags; the default gate when neither
/// gives one.
fn rule_set(a: &CompareArgs) -> Result<RuleSet> {
    let mut rules = match &a.rules {
        Some(p) => Rules::from_file(p)?.parse()?,
        None => RuleSet::default(),
    };
    for r in &a.max_regression {
        let rule = parse_rule(r).with_context(|| format!("--max-regression {r:?}"))?;
        rules
            .rules
            .retain(|x| (x.phase, x.stat) != (rule.phase, rule.stat));
        rules.rules.push(rule);
    }
    if let Some(f) = &a.max_failure_rate {
        let limit = Rules {
            max_failure_rate: Some(f.clone()),
            ..Rules::default()
        }
        .parse()
        .with_context(|| format!("--max-failure-rate {f:?}"))?;
        rules.max_failure_rate = limit.max_failure_rate;
    }
    rules.noise_aware |= a.noise_aware;
    Ok(if rules.is_empty() {
        RuleSet::default_gate()
    } else {
        rules
    })
}
