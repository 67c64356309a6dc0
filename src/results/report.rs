//! `chainstorm report RUN_DIR`: the text summary, SVG plots (plotters, SVG
//! backend) and one self-contained `report.html` with the SVGs inline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::hlog::{read_log, LogInterval};
use super::summary::Summary;
use super::timeseries::{read_failures, read_timeseries, TimeseriesRow};
use super::ResultsError;
use crate::metrics::histogram;

/// What `report` wrote.
pub struct ReportOutput {
    /// The human summary text.
    pub text: String,
    /// SVG files written.
    pub svgs: Vec<PathBuf>,
    /// The HTML file.
    pub html: PathBuf,
}

/// Merges the interval log's histograms by a function of the tag.
fn merged_by(
    log: &[LogInterval],
    key: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, Histogram<u64>> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for e in log {
        let Some(k) = e.tag.as_deref().and_then(&key) else {
            continue;
        };
        let _ = out.entry(k).or_insert_with(histogram).add(&e.histogram);
    }
    out
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn percentile_plot(path: &Path, phases: &BTreeMap<String, Histogram<u64>>) -> PlotResult {
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    // x = 1 / (1 - q): the classic HdrHistogram percentile axis.
    let qs: Vec<f64> = (0..=500)
        .map(|i| 1.0 - 10f64.powf(-(i as f64) / 100.0))
        .filter(|q| *q < 0.99999)
        .collect();
    let max_ms = phases
        .values()
        .map(|h| h.max() as f64 / 1e6)
        .fold(0.001, f64::max);
    let mut c = ChartBuilder::on(&root)
        .caption("latency by percentile (ms)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d((1f64..100_000f64).log_scale(), 0f64..max_ms * 1.05)?;
    c.configure_mesh()
        .x_desc("percentile")
        .x_label_formatter(&|x| format!("{:.3}%", 100.0 * (1.0 - 1.0 / x)))
        .y_desc("ms")
        .draw()?;
    for (i, (name, h)) in phases.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        c.draw_series(LineSeries::new(
            qs.iter()
                .map(|q| (1.0 / (1.0 - q), h.value_at_quantile(*q) as f64 / 1e6)),
            color.stroke_width(2),
        ))?
        .label(name.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn time_plot(path: &Path, title: &str, series: &[(String, Vec<(f64, f64)>)]) -> PlotResult {
    let root = SVGBackend::new(path, (900, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let x_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max * 1.1)?;
    c.configure_mesh().x_desc("seconds").draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        c.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    if !series.is_empty() {
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn anchor_plot(path: &Path, anchors: &BTreeMap<String, Histogram<u64>>) -> PlotResult {
    let root = SVGBackend::new(path, (900, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<&String> = anchors.keys().collect();
    let y_max = anchors
        .values()
        .map(|h| h.value_at_quantile(0.99) as f64 / 1e3)
        .fold(1.0, f64::max);
    let mut c = ChartBuilder::on(&root)
        .caption(
            "chain validation per anchor: p50 and p99 (µs)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..names.len().max(1) as f64, 0f64..y_max * 1.15)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len().max(1))
        .x_label_formatter(&|x| {
            names
                .get(x.floor() as usize)
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
        .y_desc("µs")
        .draw()?;
    for (i, h) in anchors.values().enumerate() {
        let x = i as f64;
        let p50 = h.value_at_quantile(0.5) as f64 / 1e3;
        let p99 = h.value_at_quantile(0.99) as f64 / 1e3;
        c.draw_series([
            Rectangle::new([(x + 0.15, 0.0), (x + 0.48, p50)], COLORS[0].filled()),
            Rectangle::new([(x + 0.52, 0.0), (x + 0.85, p99)], COLORS[1].filled()),
        ])?;
    }
    root.present()?;
    Ok(())
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
    let log = read_log(&dir.join("latency.hlog"), &[])?;
    let plot = |r: PlotResult, p: &Path| {
        r.map_err(|e| ResultsError::Format(format!("plotting {}: {e}", p.display())))
    };
    let mut svgs = Vec::new();

    let phases = merged_by(&log, |t| {
        let phase = t.split('/').next()?;
        [
            "tcp_connect",
            "tls_handshake",
            "chain_validation",
            "mqtt_connack",
            "connect_total",
        ]
        .contains(&phase)
        .then(|| phase.to_string())
    });
    let p = dir.join("percentiles.svg");
    plot(percentile_plot(&p, &phases), &p)?;
    svgs.push(p);

    let rows = read_timeseries(&dir.join("timeseries.csv"))?;
    let series = |f: fn(&TimeseriesRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.elapsed_s, f(r))).collect()
    };
    let p = dir.join("throughput.svg");
    plot(
        time_plot(
            &p,
            "attempts, successes and failures per interval",
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
        time_plot(
            &p,
            "connected devices",
            &[("connected".into(), series(|r| r.connected as f64))],
        ),
        &p,
    )?;
    svgs.push(p);

    let anchors = merged_by(&log, |t| {
        let parts: Vec<&str> = t.split('/').collect();
        (parts.first() == Some(&"chain_validation") && parts.len() == 4)
            .then(|| parts[3].to_string())
    });
    let p = dir.join("anchors.svg");
    plot(anchor_plot(&p, &anchors), &p)?;
    svgs.push(p);

    let fpath = dir.join("failures.csv");
    let mut by_cause: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    if fpath.exists() {
        for r in read_failures(&fpath)? {
            let key = format!("{} {}", r.cause.phase().label(), r.cause);
            by_cause
                .entry(key)
                .or_default()
                .push((r.elapsed_s, r.count as f64));
        }
    }
    let p = dir.join("failures.svg");
    let fs: Vec<(String, Vec<(f64, f64)>)> = by_cause.into_iter().collect();
    plot(time_plot(&p, "failures by cause per interval", &fs), &p)?;
    svgs.push(p);

    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>chainstorm report</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1000px}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}h2{margin-top:1.5em}</style></head><body>\n",
    );
    html.push_str(&format!(
        "<h1>chainstorm report: {}</h1>\n<p>{} · {} · seed {} · started {} · {:.1} s · verdict <b>{}</b></p>\n",
        escape(&summary.scenario),
        escape(&summary.tool),
        escape(&summary.target),
        summary.seed,
        escape(&summary.started_at),
        summary.wall_s,
        summary.verdict.label()
    ));
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
    html.push_str("</body></html>\n");
    let hp = dir.join("report.html");
    std::fs::write(&hp, html).map_err(super::write_err(&hp))?;
    Ok(ReportOutput {
        text,
        svgs,
        html: hp,
    })
}
