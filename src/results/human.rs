//! The human summary printed at the end of a run.

use std::fmt::Write;

use super::summary::Summary;

use crate::metrics::{format_ns as duration, Figure, Phase};

/// Renders the summary as tables: totals, per phase, per group × phase,
/// failures, thresholds.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    totals(&mut o, s);
    phases(&mut o, s);
    series(&mut o, s);
    wire(&mut o, s);
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

/// Bytes and seconds per connect by link and chain (only when a group is on
/// an emulated link, or asked for by `wire_table`).
fn wire(o: &mut String, s: &Summary) {
    if s.wire.iter().all(|w| w.link == "loopback") {
        return;
    }
    o.push_str(&wire_table(s));
}

/// The table "bytes and seconds per connect by chain and link": means per
/// connect, connect_total's median and 99th percentile.
pub fn wire_table(s: &Summary) -> String {
    let mut o = String::new();
    // The group column is as wide as the longest name, so rows stay aligned.
    let gw = s
        .wire
        .iter()
        .map(|w| w.group.len())
        .max()
        .unwrap_or(0)
        .max(18);
    let _ = writeln!(
        o,
        "\nbytes and seconds per connect by chain and link (means; bytes as TLS records, TCP = IPv4+TCP headers)"
    );
    let _ = writeln!(
        o,
        "{:<gw$} {:<16} {:<8} {:>5} {:>8} {:>10} {:>10} {:>9} {:>7} {:>9} {:>8} {:>7} {:>7} {:>5}",
        "group",
        "link",
        "endpoint",
        "certs",
        "connects",
        "p50",
        "p99",
        "TLS down",
        "TLS up",
        "MQTT d/u",
        "TCP",
        "records",
        "flights",
        "retx"
    );
    for w in &s.wire {
        let m = |f: Figure| w.figure(f).mean;
        let _ = writeln!(
            o,
            "{:<gw$} {:<16} {:<8} {:>5} {:>8} {:>10} {:>10} {:>9.0} {:>7.0} {:>9} {:>8.0} {:>7.1} {:>7.1} {:>5.2}",
            w.group,
            w.link,
            w.endpoint,
            w.certs,
            w.connects,
            duration(w.figure(Figure::ConnectTotalNs).p50 as f64),
            duration(w.figure(Figure::ConnectTotalNs).p99 as f64),
            m(Figure::TlsBytesDown),
            m(Figure::TlsBytesUp),
            format!("{:.0}/{:.0}", m(Figure::MqttBytesDown), m(Figure::MqttBytesUp)),
            m(Figure::TcpBytes),
            m(Figure::TlsRecordsDown),
            m(Figure::TlsFlights),
            m(Figure::Retransmits),
        );
    }
    o
}
