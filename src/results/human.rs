//! The human summary printed at the end of a run.

use std::fmt::Write;

use super::summary::Summary;

use crate::metrics::{format_ns as duration, Phase};

/// Renders the summary as tables: totals, per phase, per group × phase,
/// failures, thresholds.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    totals(&mut o, s);
    phases(&mut o, s);
    series(&mut o, s);
    models(&mut o, s);
    failures(&mut o, s);
    thresholds(&mut o, s);
    o
}

/// Warnings, then attempts and handshakes.
fn totals(o: &mut String, s: &Summary) {
    let t = &s.totals;
    if s.danger_accept_any {
        let _ = writeln!(
            o,
            "WARNING: certificate verification was OFF for some devices (danger-accept-any)"
        );
    }
    if s.remote {
        let _ = writeln!(o, "note: the target was remote ({})", s.target);
    }
    let _ = writeln!(
        o,
        "{}: {} attempted, {} succeeded, {} failed, {} in flight at stop, {} hold failures ({:.1}s{})",
        s.scenario,
        t.attempted,
        t.succeeded,
        t.failed,
        t.in_flight_at_stop,
        t.hold_failures,
        s.wall_s,
        if s.interrupted { ", interrupted" } else { "" }
    );
    let _ = writeln!(
        o,
        "TLS handshakes: {} full, {} after HelloRetryRequest, {} resumed",
        t.handshakes_full, t.handshakes_hrr, t.handshakes_resumed
    );
}

/// Each phase over the whole run.
fn phases(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "\n{:<18} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "phase", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for k in &s.phases {
        let _ = writeln!(
            o,
            "{:<18} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
            k.phase,
            k.stats.count,
            duration(k.stats.p50 as f64),
            duration(k.stats.p90 as f64),
            duration(k.stats.p99 as f64),
            duration(k.stats.p999 as f64),
            duration(k.stats.max as f64)
        );
    }
}

/// connect_total and chain_validation per group and endpoint.
fn series(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "\n{:<22} {:<10} {:<32} {:>8} {:>10} {:>10}",
        "group", "endpoint", "phase", "count", "p50", "p99"
    );
    for k in s
        .keys
        .iter()
        .filter(|k| matches!(k.phase, Phase::ConnectTotal | Phase::ChainValidation))
    {
        let phase = match k.anchor {
            Some(a) => format!("{}[{a}]", k.phase),
            None => k.phase.to_string(),
        };
        let _ = writeln!(
            o,
            "{:<22} {:<10} {:<32} {:>8} {:>10} {:>10}",
            k.group,
            k.endpoint.map(|e| e.label()).unwrap_or(""),
            phase,
            k.stats.count,
            duration(k.stats.p50 as f64),
            duration(k.stats.p99 as f64)
        );
    }
}

/// Per device model: connected, failed, and why.
fn models(o: &mut String, s: &Summary) {
    if s.models
        .iter()
        .any(|m| m.model != m.group || !m.causes.is_empty())
    {
        let _ = writeln!(o, "\nper device model: connected / failed, and why");
        for m in &s.models {
            let _ = writeln!(
                o,
                "  {:<22} {:<22} {:>7} connected {:>7} failed   ({})",
                m.group, m.model, m.connected, m.failed, m.parts
            );
            for c in &m.causes {
                let _ = writeln!(o, "      {:>7}  {}", c.count, c.cause.qualified());
            }
        }
    }
}

/// Every failure kind with its first sample.
fn failures(o: &mut String, s: &Summary) {
    if !s.failures.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<8} {:<34} {:<22} {:<8} {:>8}  sample",
            "phase", "cause", "group", "endpoint", "count"
        );
        for f in &s.failures {
            let sample: String = f.sample.chars().take(90).collect();
            let _ = writeln!(
                o,
                "{:<8} {:<34} {:<22} {:<8} {:>8}  {sample}",
                f.phase().label(),
                f.cause,
                f.group,
                f.endpoint.label(),
                f.count
            );
        }
    }
}

/// Each threshold, its verdict and the measured value in its unit.
fn thresholds(o: &mut String, s: &Summary) {
    if !s.thresholds.is_empty() {
        let _ = writeln!(o, "\nthresholds: {}", s.verdict);
        for t in &s.thresholds {
            // The summary says each value's unit (a summary written before
            // it did: the plain number).
            let v = match (t.value, t.unit) {
                (None, _) => "no data".into(),
                (Some(v), Some(u)) => u.format(v),
                (Some(v), None) => format!("{v}"),
            };
            let _ = writeln!(
                o,
                "  [{}] {} {}  (measured {v})",
                if t.pass { "pass" } else { "FAIL" },
                t.key,
                t.condition
            );
        }
    }
}
