//! The report's SVG plots (plotters, SVG backend). Every plot keeps its
//! legend in a column of its own right of the plot area, so no legend ever
//! covers data; axes are labelled, counts are whole numbers.

use std::collections::BTreeMap;
use std::path::Path;

use crate::metrics::{Anchor, Phase};
use hdrhistogram::Histogram;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// What a plot function returns.
pub type PlotResult = Result<(), Box<dyn std::error::Error>>;

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

/// Width of the legend column, px.
const LEGEND_W: u32 = 230;

/// A legend entry: name, color, dashed (thresholds) or filled.
pub struct Entry {
    /// Text.
    pub name: String,
    /// Color.
    pub color: RGBColor,
    /// Drawn dashed (a threshold) rather than solid.
    pub dashed: bool,
}

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Splits `root` into the plot area and the legend column, and draws the legend.
fn split_with_legend<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    entries: &[Entry],
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, Box<dyn std::error::Error>> {
    let (w, _) = root.dim_in_pixel();
    let (plot, legend) = root.split_horizontally(w.saturating_sub(LEGEND_W));
    let text =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = 50 + 20 * i as i32;
        let style = e.color.stroke_width(2);
        if e.dashed {
            for x in (8..30).step_by(6) {
                legend.draw(&PathElement::new(vec![(x, y), (x + 3, y)], style))?;
            }
        } else {
            legend.draw(&PathElement::new(vec![(8, y), (30, y)], style))?;
        }
        // Names longer than the column are cut, never drawn over the plot.
        let name: String = e.name.chars().take(30).collect();
        legend.draw(&Text::new(name, (36, y), text.clone()))?;
    }
    Ok(plot)
}

/// The percentile axes both percentile plots share: x = 1/(1-q) on a log
/// scale labelled in percent (0 % .. 99.999 %), y = latency in µs, log.
type LogLog<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>;

fn percentile_axes<'a>(
    plot: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    lo_us: f64,
    hi_us: f64,
) -> Result<LogLog<'a>, Box<dyn std::error::Error>> {
    let mut c = ChartBuilder::on(plot)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (1f64..100_000f64).log_scale(),
            ((lo_us.min(1e9) / 1.5).max(0.05)..hi_us * 1.5).log_scale(),
        )?;
    c.configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs, log scale)")
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 1.0 / x);
            let digits = (x.log10().round() as usize).saturating_sub(2);
            format!("{p:.digits$}%")
        })
        .y_labels(8)
        .y_label_formatter(&|y| crate::metrics::format_ns(y * 1e3))
        .draw()?;
    Ok(c)
}

/// A latency threshold to draw: label and limit in ns.
pub struct Limit {
    /// `connect_total.p99 < 500ms`.
    pub label: String,
    /// ns.
    pub ns: f64,
}

/// Latency by percentile per phase on log-log axes: x = 1/(1-q) (the
/// classic HdrHistogram axis, 0 % to 99.999 %), y = latency in µs.
pub fn percentiles(
    path: &Path,
    phases: &BTreeMap<Phase, Histogram<u64>>,
    limits: &[Limit],
) -> PlotResult {
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let shown: Vec<(&Phase, &Histogram<u64>)> =
        phases.iter().filter(|(_, h)| !h.is_empty()).collect();
    let mut entries: Vec<Entry> = shown
        .iter()
        .enumerate()
        .map(|(i, (n, _))| Entry {
            name: n.to_string(),
            color: color(i),
            dashed: false,
        })
        .collect();
    entries.extend(limits.iter().map(|l| Entry {
        name: format!("limit {}", l.label),
        color: RGBColor(200, 0, 0),
        dashed: true,
    }));
    let plot = split_with_legend(&root, &entries)?;
    let qs: Vec<f64> = (0..=500)
        .map(|i| 1.0 - 10f64.powf(-(i as f64) / 100.0))
        .collect();
    let us = |ns: f64| (ns / 1e3).max(0.1);
    let lo = shown
        .iter()
        .map(|(_, h)| us(h.min() as f64))
        .chain(limits.iter().map(|l| us(l.ns)))
        .fold(f64::MAX, f64::min)
        .min(1e9);
    let hi = shown
        .iter()
        .map(|(_, h)| us(h.max() as f64))
        .chain(limits.iter().map(|l| us(l.ns)))
        .fold(1.0, f64::max);
    let mut c = percentile_axes(&plot, "latency by percentile, every phase", lo, hi)?;
    for (i, (_, h)) in shown.iter().enumerate() {
        let style = color(i).stroke_width(2);
        c.draw_series(LineSeries::new(
            qs.iter()
                .filter(|q| **q <= 0.99999)
                .map(|q| (1.0 / (1.0 - q), us(h.value_at_quantile(*q) as f64))),
            style,
        ))?;
    }
    for l in limits {
        let y = us(l.ns);
        c.draw_series(DashedLineSeries::new(
            [(1.0, y), (100_000.0, y)],
            8,
            5,
            RGBColor(200, 0, 0).stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// One legend entry per named series, in the plot colors.
fn series_entries(series: &[(String, Vec<(f64, f64)>)]) -> Vec<Entry> {
    series
        .iter()
        .enumerate()
        .map(|(i, (n, _))| Entry {
            name: n.clone(),
            color: color(i),
            dashed: false,
        })
        .collect()
}

/// Seconds × whole counts, the axes both time plots share.
type TimeAxes<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn time_axes<'a>(
    plot: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    y_desc: &str,
    x_max: f64,
    y_max: f64,
) -> Result<TimeAxes<'a>, Box<dyn std::error::Error>> {
    let mut c = ChartBuilder::on(plot)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..(y_max * 1.1).ceil())?;
    c.configure_mesh()
        .x_desc("seconds")
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    Ok(c)
}

/// Lines over time (counts per interval, or a gauge).
pub fn over_time(
    path: &Path,
    title: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> PlotResult {
    let root = SVGBackend::new(path, (1000, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let plot = split_with_legend(&root, &series_entries(series))?;
    let x_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let mut c = time_axes(&plot, title, y_desc, x_max, y_max)?;
    for (i, (_, pts)) in series.iter().enumerate() {
        c.draw_series(LineSeries::new(
            pts.iter().copied(),
            color(i).stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// Failures per interval by cause, stacked, zeros included, so each band
/// drops to nothing where its cause stopped.
pub fn stacked(path: &Path, title: &str, series: &[(String, Vec<(f64, f64)>)]) -> PlotResult {
    let root = SVGBackend::new(path, (1000, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let plot = split_with_legend(&root, &series_entries(series))?;
    // Every interval any cause has, each cause 0 where it has none.
    let times: Vec<f64> = {
        let mut t: Vec<f64> = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|p| p.0))
            .collect();
        t.sort_by(|a, b| a.total_cmp(b));
        t.dedup();
        t
    };
    let value = |pts: &[(f64, f64)], t: f64| {
        pts.iter()
            .find(|p| (p.0 - t).abs() < 1e-9)
            .map(|p| p.1)
            .unwrap_or(0.0)
    };
    let mut tops: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut below = vec![0.0; times.len()];
    for (_, pts) in series {
        let top: Vec<f64> = times
            .iter()
            .zip(&below)
            .map(|(t, b)| b + value(pts, *t))
            .collect();
        tops.push(times.iter().copied().zip(top.iter().copied()).collect());
        below = top;
    }
    let x_max = times.iter().copied().fold(1.0, f64::max);
    let y_max = below.iter().copied().fold(1.0, f64::max);
    let mut c = time_axes(&plot, title, "failures per interval", x_max, y_max)?;
    // Tallest band first, so each lower one paints over its part.
    for (i, top) in tops.iter().enumerate().rev() {
        c.draw_series(AreaSeries::new(top.iter().copied(), 0.0, color(i).mix(0.8)))?;
    }
    root.present()?;
    Ok(())
}

/// Chain validation p50 and p99 per matched anchor: a labelled pair of bars each.
pub fn anchors(path: &Path, anchors: &BTreeMap<Anchor, Histogram<u64>>) -> PlotResult {
    let root = SVGBackend::new(path, (1000, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let entries = [
        Entry {
            name: "p50".into(),
            color: color(0),
            dashed: false,
        },
        Entry {
            name: "p99".into(),
            color: color(1),
            dashed: false,
        },
    ];
    let plot = split_with_legend(&root, &entries)?;
    let names: Vec<&Anchor> = anchors.keys().collect();
    let y_max = anchors
        .values()
        .map(|h| h.value_at_quantile(0.99) as f64 / 1e3)
        .fold(1.0, f64::max);
    let n = names.len().max(1) as f64;
    let mut c = ChartBuilder::on(&plot)
        .caption("chain validation per anchor (µs)", ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n, 0f64..(y_max * 1.15).ceil())?;
    // Each pair gets its own label below it, drawn by hand: axis labels
    // at fixed steps would skip some pairs.
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("µs")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (i, h) in anchors.values().enumerate() {
        let x = i as f64;
        let p50 = h.value_at_quantile(0.5) as f64 / 1e3;
        let p99 = h.value_at_quantile(0.99) as f64 / 1e3;
        c.draw_series([
            Rectangle::new([(x + 0.15, 0.0), (x + 0.48, p50)], color(0).filled()),
            Rectangle::new([(x + 0.52, 0.0), (x + 0.85, p99)], color(1).filled()),
        ])?;
    }
    let text =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, name) in names.iter().enumerate() {
        let (px, py) = c.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(name.to_string(), (px, py + 8), text.clone()))?;
    }
    root.present()?;
    Ok(())
}

/// Base and new percentile curves of each phase, overlaid: base dashed,
/// new solid, one color per phase (`compare --html`).
pub fn overlay(
    path: &Path,
    base: &BTreeMap<Phase, Histogram<u64>>,
    new: &BTreeMap<Phase, Histogram<u64>>,
) -> PlotResult {
    let root = SVGBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<&Phase> = new.keys().filter(|k| base.contains_key(*k)).collect();
    let mut entries = Vec::new();
    for (i, n) in names.iter().enumerate() {
        entries.push(Entry {
            name: format!("{n} (new)"),
            color: color(i),
            dashed: false,
        });
        entries.push(Entry {
            name: format!("{n} (base)"),
            color: color(i),
            dashed: true,
        });
    }
    let plot = split_with_legend(&root, &entries)?;
    let us = |ns: f64| (ns / 1e3).max(0.1);
    let all = names.iter().flat_map(|n| [&base[*n], &new[*n]]);
    let (lo, hi) = all.fold((f64::MAX, 1.0f64), |(lo, hi), h| {
        (lo.min(us(h.min() as f64)), hi.max(us(h.max() as f64)))
    });
    let mut c = percentile_axes(&plot, "latency by percentile: base (dashed) vs new", lo, hi)?;
    let qs: Vec<f64> = (0..=500)
        .map(|i| 1.0 - 10f64.powf(-(i as f64) / 100.0))
        .filter(|q| *q <= 0.99999)
        .collect();
    for (i, n) in names.iter().enumerate() {
        let curve = |h: &Histogram<u64>| -> Vec<(f64, f64)> {
            qs.iter()
                .map(|q| (1.0 / (1.0 - q), us(h.value_at_quantile(*q) as f64)))
                .collect()
        };
        c.draw_series(LineSeries::new(curve(&new[*n]), color(i).stroke_width(2)))?;
        c.draw_series(DashedLineSeries::new(
            curve(&base[*n]),
            6,
            4,
            color(i).stroke_width(2),
        ))?;
    }
    root.present()?;
    Ok(())
}
