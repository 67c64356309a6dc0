//! The comparison as a terminal table, Markdown (a CI comment) and JUnit
//! XML (a CI test report).

use std::fmt::Write;

use super::{Comparison, Row, Side};
use crate::metrics::format_ns as dur;

fn verdict(r: &Row) -> &'static str {
    match (r.limit, r.failed) {
        (None, _) => "",
        (Some(_), false) => "ok",
        (Some(_), true) => "REGRESSION",
    }
}

fn limit_text(r: &Row) -> String {
    r.limit
        .map(|l| format!("{:.0}%", l * 100.0))
        .unwrap_or_default()
}

/// One row's cells as text, shared by the terminal table and Markdown.
struct Cells {
    key: String,
    stat: &'static str,
    base: String,
    new: String,
    delta: String,
    rel: String,
    spread: String,
    limit: String,
    verdict: &'static str,
}

impl Cells {
    fn of(r: &Row) -> Cells {
        Cells {
            key: r.key.to_string(),
            stat: r.stat.label(),
            base: dur(r.base),
            new: dur(r.new),
            delta: dur(r.delta()),
            rel: format!("{:+.1}%", r.relative() * 100.0),
            spread: format!("{:.1}%", r.spread * 100.0),
            limit: limit_text(r),
            verdict: verdict(r),
        }
    }
}

fn rules_line(c: &Comparison) -> &'static str {
    if c.default_rules {
        "rules: default gate (p99 of each connect phase +10 % or the bases' spread; failure rate +0.5 points)"
    } else {
        "rules: as given"
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
        let c = Cells::of(r);
        let _ = writeln!(
            o,
            "{:<58} {:<6} {:>10} {:>10} {:>10} {:>8} {:>7} {:>6}  {}",
            c.key, c.stat, c.base, c.new, c.delta, c.rel, c.spread, c.limit, c.verdict
        );
    }
    for (k, side) in &c.unmatched {
        let side = match side {
            Side::NewOnly => "new only",
            Side::BaseOnly => "base only",
        };
        let _ = writeln!(o, "{:<58} ({side})", k.to_string());
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
    let _ = writeln!(o, "\n{}", rules_line(c));
    let broken = c.rows.iter().filter(|r| r.failed).count()
        + usize::from(c.failure_rule.is_some_and(|(_, ok)| !ok));
    let _ = writeln!(
        o,
        "{}",
        if broken == 0 {
            format!("compare: no regression ({} checks)", c.checks())
        } else {
            format!("compare: {broken} of {} checks broken", c.checks())
        }
    );
    o
}

/// Markdown, for a CI comment.
pub fn render_markdown(c: &Comparison, ruled_only: bool) -> String {
    let mut o = String::from("| series | stat | base | new | delta | rel | spread | limit | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in c.rows.iter().filter(|r| !ruled_only || r.limit.is_some()) {
        let c = Cells::of(r);
        let verdict = if r.failed {
            "**REGRESSION**"
        } else {
            c.verdict
        };
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {verdict} |",
            c.key, c.stat, c.base, c.new, c.delta, c.rel, c.spread, c.limit
        );
    }
    let (b, n) = c.failure_rate;
    let _ = writeln!(
        o,
        "\nFailure rate: base {:.3}%, new {:.3}%. {}.",
        b * 100.0,
        n * 100.0,
        rules_line(c)
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

/// One `<testcase>`: a passing one is empty; a broken one has a
/// `<failure type=… message=…>` whose body shows base, new, change and limit.
fn testcase(out: &mut String, class: &str, name: &str, failure: Option<(&str, String, String)>) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
        xml(class),
        xml(name)
    );
    match failure {
        None => out.push_str("/>\n"),
        Some((kind, message, body)) => {
            let _ = writeln!(
                out,
                "><failure type=\"{kind}\" message=\"{}\">{}</failure></testcase>",
                xml(&message),
                xml(&body)
            );
        }
    }
}

/// JUnit XML: one test case per ruled row and one for the failure-rate
/// rule, with the attributes strict consumers require (`tests`,
/// `failures`, `errors`, `skipped`, `time`, `timestamp`, `hostname`).
pub fn render_junit(c: &Comparison) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    for r in c.rows.iter().filter(|r| r.limit.is_some()) {
        let class = format!("chainstorm.compare.{}", r.key.phase.label());
        let name = format!("{} {}", r.key, r.stat);
        let failure = r.failed.then(|| {
            failures += 1;
            let limit = r.limit.unwrap_or(0.0) * 100.0;
            let allowed = r.allowed.unwrap_or(0.0) * 100.0;
            (
                "regression",
                format!(
                    "{} {}: {} -> {} ({:+.1}%, limit {limit:.0}%)",
                    r.key,
                    r.stat,
                    dur(r.base),
                    dur(r.new),
                    r.relative() * 100.0
                ),
                format!(
                    "base   {}\nnew    {}\nchange {} ({:+.1}%)\nlimit  {limit:.1}% (allowed {allowed:.1}% with the bases' spread {:.1}%)",
                    dur(r.base),
                    dur(r.new),
                    dur(r.delta()),
                    r.relative() * 100.0,
                    r.spread * 100.0
                ),
            )
        });
        testcase(&mut cases, &class, &name, failure);
    }
    if let Some((m, ok)) = c.failure_rule {
        let (b, n) = c.failure_rate;
        let failure = (!ok).then(|| {
            failures += 1;
            (
                "failure_rate",
                format!("failure rate {:.3}% > {:.3}%", n * 100.0, m * 100.0),
                format!(
                    "base   {:.3}%\nnew    {:.3}%\nchange {:+.3} points\nlimit  {:.3}%",
                    b * 100.0,
                    n * 100.0,
                    (n - b) * 100.0,
                    m * 100.0
                ),
            )
        });
        testcase(&mut cases, "chainstorm.compare", "failure_rate", failure);
    }
    let tests = c.checks();
    // JUnit's timestamp is ISO 8601 without a zone (the XSD's pattern).
    let timestamp =
        c.at.format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let host = crate::results::hostname();
    let time = format!("{:.6}", c.seconds);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"chainstorm compare\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">\n\
         \x20 <testsuite name=\"chainstorm compare\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time}\" timestamp=\"{timestamp}\" hostname=\"{}\">\n\
         {cases}\
         \x20 </testsuite>\n\
         </testsuites>\n",
        xml(&host)
    )
}
