//! The human summary printed at the end of a run.

use std::fmt::Write;

use super::summary::Summary;

use crate::metrics::{format_ns as duration, Phase};

/// Renders the summary as tables: totals, per phase, per group × phase,
/// failures, thresholds.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
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
    if !s.thresholds.is_empty() {
        let _ = writeln!(o, "\nthresholds: {}", s.verdict);
        for t in &s.thresholds {
            let v = match t.value {
                None => "no data".into(),
                Some(v)
                    if t.key.starts_with("failures.rate")
                        || (t.key.starts_with("failures{") && t.key.ends_with(".rate")) =>
                {
                    format!("{:.3}%", v * 100.0)
                }
                Some(v) if t.key.ends_with(".count") => format!("{v:.0}"),
                Some(v) => duration(v),
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
    o
}
