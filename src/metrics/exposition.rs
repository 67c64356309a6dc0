//! The run's counters and latency histograms in the Prometheus text
//! exposition format (version 0.0.4), for `run --metrics-listen`. Each
//! shard of a distributed run exposes its own; Prometheus sums them
//! (`sum by (phase) (rate(chainstorm_failures_total[1m]))`), so the whole
//! run is visible live.

use std::fmt::Write;

use super::{Aggregate, Labels, Snapshot};

/// Histogram bucket bounds, seconds: 100 µs (a loopback TCP connect) to
/// 10 s (a handshake timeout).
pub const BUCKETS_S: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// A label value escaped as the format requires.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders the aggregate so far. `extra` labels (run id, shard) go on
/// every sample.
pub fn render(agg: &Aggregate, snap: &Snapshot, labels: &Labels, extra: &[(&str, &str)]) -> String {
    let common: String = extra
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",");
    let with = |more: &str| -> String {
        match (common.is_empty(), more.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("{{{more}}}"),
            (false, true) => format!("{{{common}}}"),
            (false, false) => format!("{{{common},{more}}}"),
        }
    };
    let group = |i: u16| {
        labels
            .groups
            .get(usize::from(i))
            .map(String::as_str)
            .unwrap_or("?")
    };
    let c = &agg.counts;
    let mut o = String::new();
    for (name, help, v) in [
        (
            "chainstorm_attempts_total",
            "Connect attempts started.",
            c.attempted,
        ),
        (
            "chainstorm_successes_total",
            "Attempts that reached their goal.",
            c.succeeded,
        ),
        (
            "chainstorm_attempt_failures_total",
            "Attempts that failed (every phase but hold).",
            c.failed(),
        ),
    ] {
        header(&mut o, name, "counter", help);
        let _ = writeln!(o, "{name}{} {v}", with(""));
    }
    header(
        &mut o,
        "chainstorm_failures_total",
        "counter",
        "Failures by phase, cause, fleet group and endpoint kind.",
    );
    for (k, f) in &agg.failures {
        let l = format!(
            "phase=\"{}\",cause=\"{}\",group=\"{}\",endpoint=\"{}\"",
            k.phase().label(),
            escape(&k.cause.to_string()),
            escape(group(k.group)),
            k.endpoint.label()
        );
        let _ = writeln!(o, "chainstorm_failures_total{} {}", with(&l), f.count);
    }
    for (name, help, v) in [
        (
            "chainstorm_connected",
            "Sessions connected now.",
            snap.connected as f64,
        ),
        (
            "chainstorm_in_flight",
            "Attempts in flight now.",
            snap.in_flight as f64,
        ),
    ] {
        header(&mut o, name, "gauge", help);
        let _ = writeln!(o, "{name}{} {v}", with(""));
    }
    header(
        &mut o,
        "chainstorm_latency_seconds",
        "histogram",
        "Latency per phase, fleet group and endpoint kind (chain validation also per anchor).",
    );
    for (k, h) in &agg.series {
        let mut l = format!(
            "phase=\"{}\",group=\"{}\",endpoint=\"{}\"",
            k.phase.label(),
            escape(group(k.group)),
            k.endpoint.label()
        );
        if let Some(a) = k.anchor {
            let _ = write!(l, ",anchor=\"{a}\"");
        }
        for b in BUCKETS_S {
            let n = h.count_between(0, (b * 1e9) as u64);
            let _ = writeln!(
                o,
                "chainstorm_latency_seconds_bucket{} {n}",
                with(&format!("{l},le=\"{b}\""))
            );
        }
        let _ = writeln!(
            o,
            "chainstorm_latency_seconds_bucket{} {}",
            with(&format!("{l},le=\"+Inf\"")),
            h.len()
        );
        let sum = h.mean() * h.len() as f64 / 1e9;
        let _ = writeln!(o, "chainstorm_latency_seconds_sum{} {sum}", with(&l));
        let _ = writeln!(
            o,
            "chainstorm_latency_seconds_count{} {}",
            with(&l),
            h.len()
        );
    }
    wire(&mut o, agg, &labels.groups, &with);
    o
}

/// Bytes on the wire of the successful connects, per group, endpoint kind,
/// chain served (certificates) and phase/direction: sums and counts, so a
/// rate() of each gives bytes per connect.
fn wire(o: &mut String, agg: &Aggregate, groups: &[String], with: &dyn Fn(&str) -> String) {
    let group = |i: u16| {
        groups
            .get(usize::from(i))
            .map(String::as_str)
            .unwrap_or("?")
    };
    use super::Figure;
    if agg.wire.is_empty() {
        return;
    }
    header(
        o,
        "chainstorm_connect_bytes",
        "summary",
        "Bytes per successful connect by phase and direction (TLS records; tcp: IPv4+TCP headers), group, endpoint kind and certificates served.",
    );
    for (k, w) in &agg.wire {
        for (f, what) in [
            (Figure::TcpBytes, "tcp"),
            (Figure::TlsBytesUp, "tls_up"),
            (Figure::TlsBytesDown, "tls_down"),
            (Figure::MqttBytesUp, "mqtt_up"),
            (Figure::MqttBytesDown, "mqtt_down"),
        ] {
            let h = w.of(f);
            let l = format!(
                "group=\"{}\",endpoint=\"{}\",certs=\"{}\",bytes=\"{what}\"",
                escape(group(k.group)),
                k.endpoint.label(),
                k.certs
            );
            let sum = h.mean() * h.len() as f64;
            let _ = writeln!(o, "chainstorm_connect_bytes_sum{} {sum}", with(&l));
            let _ = writeln!(o, "chainstorm_connect_bytes_count{} {}", with(&l), h.len());
        }
    }
}
