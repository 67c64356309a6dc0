//! `chainstorm report RUN_DIR`: the text summary, SVG plots (`plots`) and
//! one self-contained `report.html` with the SVGs inline, per-group and
//! per-endpoint tables and the failures with their full samples; and
//! `compare --html`, base and new percentile curves overlaid.

mod plots;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::hlog::{read_log, LogInterval};
use super::summary::Summary;
use super::timeseries::{read_failures, read_timeseries, TimeseriesRow};
use super::ResultsError;
use crate::metrics::{histogram, Anchor, Phase, SeriesKey};
use plots::{Limit, PlotResult};

/// What `report` wrote.
pub struct ReportOutput {
    /// The human summary text.
    pub text: String,
    /// SVG files written.
    pub svgs: Vec<PathBuf>,
    /// The HTML file.
    pub html: PathBuf,
}

/// Merges the interval log's histograms by a function of the series key
/// (the untagged fleet-wide lines have none and are passed over).
fn merged_by<K: Ord>(
    log: &[LogInterval],
    key: impl Fn(&SeriesKey) -> Option<K>,
) -> BTreeMap<K, Histogram<u64>> {
    let mut out: BTreeMap<K, Histogram<u64>> = BTreeMap::new();
    for e in log {
        let Some(k) = e.key.as_ref().and_then(&key) else {
            continue;
        };
        let _ = out.entry(k).or_insert_with(histogram).add(&e.histogram);
    }
    out
}

/// Every phase's histogram over the run (all groups and endpoints).
fn by_phase(log: &[LogInterval]) -> BTreeMap<Phase, Histogram<u64>> {
    merged_by(log, |k| Some(k.phase))
}

/// The run's latency thresholds over the whole fleet (no filters), as
/// lines on the percentile plot: the summary says which they are.
fn latency_limits(s: &Summary) -> Vec<Limit> {
    s.thresholds
        .iter()
        .filter(|t| t.on_percentile_plot)
        .filter_map(|t| {
            Some(Limit {
                label: format!("{} {}", t.key, t.condition),
                ns: t.limit?,
            })
        })
        .collect()
}

/// `2026-12-01T20:15:21.114387489Z` as `2026-12-01 20:15:21 UTC`.
fn human_time(rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
                ))
                .ok()
        })
        .unwrap_or_else(|| rfc3339.to_string())
}

/// Per device model: who connected and why the others failed.
fn models_html(s: &Summary) -> String {
    if s.models.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<h2>Device models</h2>\n<table><tr><th>group</th><th>model</th><th>imitates</th><th>connected</th><th>failed</th><th>why (as the device would log it)</th></tr>\n",
    );
    for m in &s.models {
        let causes: Vec<String> = m
            .causes
            .iter()
            .map(|c| format!("{} × {}", c.count, escape(&c.cause.qualified())))
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&m.group),
            escape(&m.model),
            escape(&m.imitates),
            escape(&m.parts),
            m.connected,
            m.failed,
            causes.join("<br>")
        ));
    }
    h.push_str("</table>\n");
    h
}

fn thresholds_html(s: &Summary) -> String {
    if s.thresholds.is_empty() {
        return String::new();
    }
    let mut o = String::from(
        "<h2>Thresholds</h2>\n<table><tr><th>rule</th><th>measured</th><th></th></tr>\n",
    );
    for t in &s.thresholds {
        o.push_str(&format!(
            "<tr><td>{} {}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&t.key),
            escape(&t.condition),
            t.value
                .map(|v| measured(t, v))
                .unwrap_or_else(|| "no data".into()),
            if t.pass { "pass" } else { "<b>FAIL</b>" }
        ));
    }
    o.push_str("</table>\n");
    o
}

/// A threshold's measured value in its unit (a plain number where the
/// summary does not say the unit).
fn measured(t: &super::ThresholdResult, v: f64) -> String {
    match t.unit {
        Some(u) => u.format(v),
        None => format!("{v}"),
    }
}

/// Per group and per endpoint kind: connect_total and chain_validation.
fn breakdown_html(s: &Summary) -> String {
    use crate::metrics::format_ns;
    let mut o = String::new();
    for (title, by_group) in [("Per fleet group", true), ("Per endpoint kind", false)] {
        o.push_str(&format!(
            "<h2>{title}</h2>\n<table><tr><th>{}</th><th>phase</th><th>count</th><th>p50</th><th>p99</th><th>p99.9</th></tr>\n",
            if by_group { "group / endpoint" } else { "endpoint" }
        ));
        let mut rows: BTreeMap<(String, Phase), (u64, u64, u64, u64)> = BTreeMap::new();
        for k in s.keys.iter().filter(|k| {
            matches!(k.phase, Phase::ConnectTotal | Phase::ChainValidation) && k.anchor.is_none()
        }) {
            let endpoint = k.endpoint.map(|e| e.label()).unwrap_or("");
            let name = if by_group {
                format!("{} / {endpoint}", k.group)
            } else {
                endpoint.to_string()
            };
            let e = rows.entry((name, k.phase)).or_default();
            // Endpoint rows add the groups' counts; percentiles keep the worst.
            e.0 += k.stats.count;
            e.1 = e.1.max(k.stats.p50);
            e.2 = e.2.max(k.stats.p99);
            e.3 = e.3.max(k.stats.p999);
        }
        for ((name, phase), (n, p50, p99, p999)) in rows {
            o.push_str(&format!(
                "<tr><td>{}</td><td>{phase}</td><td>{n}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(&name),
                format_ns(p50 as f64),
                format_ns(p99 as f64),
                format_ns(p999 as f64)
            ));
        }
        o.push_str("</table>\n");
        if !by_group {
            o.push_str("<p>Endpoint rows: counts summed over groups; percentiles are the largest group's.</p>\n");
        }
    }
    o
}

/// Bytes and seconds per connect by chain and link.
fn wire_html(s: &Summary) -> String {
    use crate::metrics::{format_ns, Figure};
    if s.wire.is_empty() {
        return String::new();
    }
    let mut o = String::from(
        "<h2>Bytes and seconds per connect by chain and link</h2>\n<table><tr><th>group</th><th>link</th><th>endpoint</th><th>certs</th><th>connects</th><th>connect p50</th><th>p99</th><th>TLS bytes down</th><th>TLS bytes up</th><th>MQTT bytes down/up</th><th>TCP header bytes</th><th>records down</th><th>flights</th><th>retransmits</th></tr>\n",
    );
    for w in &s.wire {
        let m = |f: Figure| w.figure(f).mean;
        let ct = w.figure(Figure::ConnectTotalNs);
        o.push_str(&format!(
            "<tr><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}/{:.0}</td><td>{:.0}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td></tr>\n",
            escape(&w.group),
            escape(&w.link_params),
            escape(&w.link),
            w.endpoint,
            w.certs,
            w.connects,
            format_ns(ct.p50 as f64),
            format_ns(ct.p99 as f64),
            m(Figure::TlsBytesDown),
            m(Figure::TlsBytesUp),
            m(Figure::MqttBytesDown),
            m(Figure::MqttBytesUp),
            m(Figure::TcpBytes),
            m(Figure::TlsRecordsDown),
            m(Figure::TlsFlights),
            m(Figure::Retransmits),
        ));
    }
    o.push_str("</table>\n<p>Means per connect; bytes are TLS records (MQTT travels inside them), TCP counts IPv4 and TCP headers only.</p>\n");
    o
}

/// Every failure kind with its whole first sample.
fn failures_html(s: &Summary) -> String {
    if s.failures.is_empty() {
        return String::new();
    }
    let mut o = String::from(
        "<h2>Failures</h2>\n<table><tr><th>phase</th><th>cause</th><th>group</th><th>endpoint</th><th>count</th><th>first sample</th></tr>\n",
    );
    for f in &s.failures {
        o.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            f.phase().label(),
            escape(&f.cause.to_string()),
            escape(&f.group),
            f.endpoint.label(),
            f.count,
            escape(&f.sample)
        ));
    }
    o.push_str("</table>\n");
    o
}

/// `compare --html`: the percentile curves of every phase, the bases'
/// (added together) dashed and the new run's solid, in one self-contained
/// HTML file. The runs must be run directories (their `latency.hlog`).
pub fn compare_html(bases: &[PathBuf], new: &Path, out: &Path) -> Result<(), ResultsError> {
    let load = |d: &Path| -> Result<BTreeMap<Phase, Histogram<u64>>, ResultsError> {
        let log = d.join("latency.hlog");
        if !log.exists() {
            return Err(ResultsError::NotRunDir {
                path: d.to_path_buf(),
                needs: "--html needs run directories (with latency.hlog)",
            });
        }
        let groups = Summary::read(d)?.group_names();
        Ok(by_phase(&read_log(&log, &groups)?))
    };
    let mut base: BTreeMap<Phase, Histogram<u64>> = BTreeMap::new();
    for b in bases {
        for (k, h) in load(b)? {
            let _ = base.entry(k).or_insert_with(histogram).add(&h);
        }
    }
    let new_h = load(new)?;
    let svg = out.with_extension("svg");
    plots::overlay(&svg, &base, &new_h).map_err(|e| ResultsError::Plot {
        path: svg.clone(),
        message: e.to_string(),
    })?;
    let body = std::fs::read_to_string(&svg).map_err(super::read_err(&svg))?;
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chainstorm compare</title></head><body style=\"font-family:sans-serif\">\n<h1>chainstorm compare</h1>\n<p>base: {}<br>new: {}</p>\n{body}\n</body></html>\n",
        escape(&bases.iter().map(|b| b.display().to_string()).collect::<Vec<_>>().join(", ")),
        escape(&new.display().to_string())
    );
    std::fs::write(out, html).map_err(super::write_err(out))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the plots and report.html into `dir` and returns the text summary.
pub fn report(dir: &Path) -> Result<ReportOutput, ResultsError> {
    let summary = Summary::read(dir)?;
    let text = super::human_summary(&summary);
    let log = read_log(&dir.join("latency.hlog"), &summary.group_names())?;
    let plot = |r: PlotResult, p: &Path| {
        r.map_err(|e| ResultsError::Plot {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let mut svgs = Vec::new();

    let phases = by_phase(&log);
    let p = dir.join("percentiles.svg");
    plot(
        plots::percentiles(&p, &phases, &latency_limits(&summary)),
        &p,
    )?;
    svgs.push(p);

    let rows = read_timeseries(&dir.join("timeseries.csv"))?;
    let series = |f: fn(&TimeseriesRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.elapsed_s, f(r))).collect()
    };
    let p = dir.join("throughput.svg");
    plot(
        plots::over_time(
            &p,
            "attempts, successes and failures per interval",
            "per interval",
            &[
                ("attempted".into(), series(|r| r.attempted as f64)),
                ("succeeded".into(), series(|r| r.succeeded as f64)),
                ("failed".into(), series(|r| r.failed() as f64)),
            ],
        ),
        &p,
    )?;
    svgs.push(p);
    let p = dir.join("connected.svg");
    plot(
        plots::over_time(
            &p,
            "connected devices",
            "devices",
            &[("connected".into(), series(|r| r.connected as f64))],
        ),
        &p,
    )?;
    svgs.push(p);

    let anchors: BTreeMap<Anchor, _> = merged_by(&log, |k| {
        k.anchor.filter(|_| k.phase == Phase::ChainValidation)
    });
    let p = dir.join("anchors.svg");
    plot(plots::anchors(&p, &anchors), &p)?;
    svgs.push(p);

    let fpath = dir.join("failures.csv");
    let mut by_cause: BTreeMap<crate::metrics::Cause, Vec<(f64, f64)>> = BTreeMap::new();
    if fpath.exists() {
        for r in read_failures(&fpath)? {
            by_cause
                .entry(r.cause)
                .or_default()
                .push((r.elapsed_s, r.count as f64));
        }
    }
    let p = dir.join("failures.svg");
    let fs: Vec<(String, Vec<(f64, f64)>)> = by_cause
        .into_iter()
        .map(|(c, points)| (format!("{} {c}", c.phase().label()), points))
        .collect();
    plot(
        plots::stacked(&p, "failures by cause per interval, stacked", &fs),
        &p,
    )?;
    svgs.push(p);

    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chainstorm report</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1040px}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}h2{margin-top:1.5em}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}</style></head><body>\n",
    );
    html.push_str(&format!(
        "<h1>chainstorm report: {}</h1>\n<p>{} · {} · seed {} · started {} · {:.1} s · verdict <b>{}</b></p>\n",
        escape(&summary.scenario),
        escape(&summary.tool),
        escape(&summary.target),
        summary.seed,
        escape(&human_time(&summary.started_at)),
        summary.wall_s,
        summary.verdict.label()
    ));
    html.push_str(&thresholds_html(&summary));
    html.push_str(&models_html(&summary));
    html.push_str("<h2>Summary</h2>\n<pre>");
    html.push_str(&escape(&text));
    html.push_str("</pre>\n");
    for svg in &svgs {
        let body = std::fs::read_to_string(svg).map_err(super::read_err(svg))?;
        let name = svg.file_stem().and_then(|s| s.to_str()).unwrap_or("plot");
        html.push_str(&format!("<h2>{name}</h2>\n"));
        // SVG inline: the report needs no other file and fetches nothing.
        html.push_str(&body);
        html.push('\n');
    }
    html.push_str(&wire_html(&summary));
    html.push_str(&breakdown_html(&summary));
    html.push_str(&failures_html(&summary));
    html.push_str("</body></html>\n");
    let hp = dir.join("report.html");
    std::fs::write(&hp, html).map_err(super::write_err(&hp))?;
    Ok(ReportOutput {
        text,
        svgs,
        html: hp,
    })
}
