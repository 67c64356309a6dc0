//! Drawing the model. Pure: a function of the model and the area, so the
//! views are snapshot-tested with ratatui's TestBackend. Degrades on small
//! terminals by hiding panels, never by overlapping them.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Cell, Gauge, Paragraph, Row, Sparkline, Table, Tabs,
};
use ratatui::Frame;

use super::model::{UiModel, View};
use super::panels::{
    draw_anchors, draw_details, draw_endpoints, draw_failures, draw_groups, draw_help,
};
use super::style::{dur, emphasis, fg, selected};
use crate::metrics::{Phase, RunState, Stats};

/// Draws the whole screen.
pub fn draw(f: &mut Frame<'_>, m: &UiModel) {
    let area = f.area();
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, m, header);
    let titles = [
        View::Overview,
        View::Failures,
        View::Groups,
        View::Endpoints,
    ]
    .map(View::title);
    let idx = match m.view {
        View::Overview => 0,
        View::Failures => 1,
        View::Groups => 2,
        View::Endpoints => 3,
    };
    f.render_widget(
        Tabs::new(titles)
            .select(idx)
            .highlight_style(emphasis(m, Color::Cyan)),
        tabs,
    );
    match m.view {
        View::Overview => draw_overview(f, m, body),
        View::Failures => draw_failures(f, m, body, true),
        View::Groups => draw_groups(f, m, body),
        View::Endpoints => draw_endpoints(f, m, body),
    }
    let keys = if m.stopping {
        "stopping: draining, then writing results…"
    } else {
        "q stop · p pause · Tab view · ↑↓ select · Enter details · h help"
    };
    f.render_widget(Paragraph::new(keys).style(fg(m, Color::DarkGray)), footer);
    if m.details && m.view == View::Failures {
        draw_details(f, m, area);
    }
    if m.help {
        draw_help(f, m, area);
    }
}

/// A text progress bar of `width` cells.
fn bar(ratio: f64, width: usize) -> String {
    let full = ((ratio.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(full), "░".repeat(width - full))
}

fn draw_header(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let s = &m.frame.snapshot;
    let passing = m.frame.thresholds.iter().filter(|(_, ok)| *ok).count();
    let total = m.frame.thresholds.len();
    let th_style = if passing == total {
        fg(m, Color::Green)
    } else {
        emphasis(m, Color::Red)
    };
    let line1 = Line::from(vec![
        Span::styled("chainstorm ", emphasis(m, Color::Cyan)),
        Span::raw(format!(
            "{} · {} · seed {}",
            m.header.scenario, m.header.target, m.header.seed
        )),
    ]);
    // Progress: how far, how long still; the state says what is going on.
    let narrow = area.width < 110;
    let progress = if s.planned_s > 0.0 {
        (s.elapsed_s / s.planned_s).min(1.0)
    } else {
        0.0
    };
    let eta = match s.state {
        RunState::Draining => "draining".to_string(),
        RunState::Done => "done".to_string(),
        _ => format!(
            "ETA {}",
            crate::metrics::format_secs((s.planned_s - s.elapsed_s).max(0.0))
        ),
    };
    let line2 = Line::from(vec![
        Span::styled(
            bar(progress, if narrow { 16 } else { 30 }),
            fg(m, Color::Cyan),
        ),
        Span::raw(format!(
            " {:>3.0}%  {}/{}  {eta}  ",
            progress * 100.0,
            crate::metrics::format_secs(s.elapsed_s),
            crate::metrics::format_secs(s.planned_s)
        )),
        Span::styled(format!("[{}]", s.state), emphasis(m, Color::Yellow)),
    ]);
    // Rates: achieved next to what the plan intends, and the scheduler's
    // lag, so an open-loop generator falling behind shows.
    let lag = s
        .phase(Phase::SchedulerLag)
        .map(|r| r.interval.p99)
        .unwrap_or(0);
    let behind = s.target_rate > 0.0 && s.attempted_rate < 0.9 * s.target_rate;
    let rate_style = if behind {
        emphasis(m, Color::Red)
    } else {
        Style::default()
    };
    let rate = if s.target_rate > 0.0 {
        format!("{:.0}/s of {:.0}/s", s.attempted_rate, s.target_rate)
    } else {
        format!("{:.0}/s", s.attempted_rate)
    };
    // Narrow terminals carry the counters on the progress line, which has
    // room; wide ones after the rates.
    let counts = if narrow {
        format!("  att {} ok {} fail {}", s.attempted, s.succeeded, s.failed)
    } else {
        format!(
            "  attempted {}  ok {}  failed {}  in flight {}",
            s.attempted, s.succeeded, s.failed, s.in_flight
        )
    };
    let mut line2 = line2;
    if narrow {
        line2.spans.push(Span::raw(counts.clone()));
    }
    let line3 = Line::from(vec![
        Span::styled(
            if total == 0 {
                "no thresholds".to_string()
            } else {
                format!("thresholds {passing}/{total} pass")
            },
            th_style,
        ),
        Span::raw(" · rate "),
        Span::styled(rate, rate_style),
        Span::raw(format!(" · lag p99 {}", dur(lag))),
        Span::raw(if narrow { String::new() } else { counts }),
    ]);
    f.render_widget(Paragraph::new(vec![line1, line2, line3]), area);
}

fn draw_overview(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    // Panels from most to least important; small terminals drop the tail.
    let show_rates = area.height >= 20;
    let rates_h = if show_rates { 5 } else { 0 };
    let latency_h = (Phase::ALL.len() as u16) + 3;
    let [rates, latency, rest] = Layout::vertical([
        Constraint::Length(rates_h),
        Constraint::Length(latency_h),
        Constraint::Min(0),
    ])
    .areas(area);
    if show_rates {
        draw_rates(f, m, rates);
    }
    let wide = area.width >= 120;
    if wide {
        let [lat, dist] =
            Layout::horizontal([Constraint::Min(80), Constraint::Length(38)]).areas(latency);
        draw_latency(f, m, lat);
        draw_distribution(f, m, dist);
    } else {
        draw_latency(f, m, latency);
    }
    if rest.height >= 3 {
        if wide && rest.height >= 6 {
            let [fails, anchors] =
                Layout::horizontal([Constraint::Min(80), Constraint::Length(38)]).areas(rest);
            draw_failures(f, m, fails, false);
            draw_anchors(f, m, anchors);
        } else {
            draw_failures(f, m, rest, false);
        }
    }
}

fn draw_rates(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let s = &m.frame.snapshot;
    let [spark, gauge] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(30)]).areas(area);
    let width = spark.width.saturating_sub(2) as usize;
    let take = |i: usize| -> Vec<u64> {
        let h: Vec<u64> = m
            .history
            .iter()
            .map(|t| match i {
                0 => t.0,
                1 => t.1,
                _ => t.2,
            })
            .collect();
        h[h.len().saturating_sub(width)..].to_vec()
    };
    let rows = Layout::vertical([Constraint::Length(1); 3])
        .split(spark.inner(ratatui::layout::Margin::new(1, 1)));
    // One scale for the three rows (the largest rate seen in the window),
    // so 20 failures/s never look as tall as 150 attempts/s.
    let series: Vec<Vec<u64>> = (0..3).map(take).collect();
    let top = series.iter().flatten().copied().max().unwrap_or(0).max(1);
    f.render_widget(
        Block::bordered().title(format!(" per second, one scale 0..{top} ")),
        spark,
    );
    let colors = [Color::Cyan, Color::Green, Color::Red];
    let names = ["att", "ok", "fail"];
    let now = [s.attempted_rate, s.succeeded_rate, s.failed_rate];
    for (i, r) in rows.iter().enumerate() {
        let [label, line] =
            Layout::horizontal([Constraint::Length(10), Constraint::Min(1)]).areas(*r);
        f.render_widget(
            Paragraph::new(format!("{:<4}{:>5.0}", names[i], now[i])).style(fg(m, colors[i])),
            label,
        );
        f.render_widget(
            Sparkline::default()
                .data(&series[i])
                .max(top)
                .style(fg(m, colors[i])),
            line,
        );
    }
    // Connected against what the plan can hold at once, not all devices.
    let planned = if s.planned_concurrency > 0 {
        s.planned_concurrency
    } else {
        s.planned_devices
    };
    let ratio = if planned > 0 {
        (s.connected.max(0) as f64 / planned as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    f.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" connected / at once "))
            .gauge_style(fg(m, Color::Green))
            .ratio(ratio)
            .label(format!("{} / {planned}", s.connected)),
        gauge,
    );
}

fn stats_cells(s: &Stats, full: bool) -> Vec<Cell<'static>> {
    let mut v = vec![Cell::from(dur(s.p50)), Cell::from(dur(s.p99))];
    if full {
        v.insert(1, Cell::from(dur(s.p90)));
        v.push(Cell::from(dur(s.p999)));
        v.push(Cell::from(dur(s.max)));
    }
    v
}

fn draw_latency(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let full = area.width >= 100;
    let s = &m.frame.snapshot;
    let mut header = vec!["phase", "now p50", "now p99", "run p50"];
    if full {
        header.extend(["run p90", "run p99", "run p99.9", "run max", "count"]);
    } else {
        header.push("run p99");
    }
    let rows: Vec<Row> = Phase::ALL
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let r = s.phase(*p);
            let (now, total) = r.map(|r| (r.interval, r.total)).unwrap_or_default();
            let mut cells = vec![
                Cell::from(p.label()),
                Cell::from(dur(now.p50)),
                Cell::from(dur(now.p99)),
            ];
            cells.extend(stats_cells(&total, full));
            if full {
                cells.push(Cell::from(total.count.to_string()));
            }
            let row = Row::new(cells);
            if i == m.selected && m.view == View::Overview {
                row.style(selected(m))
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![Constraint::Length(17)];
    widths.extend(std::iter::repeat_n(Constraint::Length(9), header.len() - 1));
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(emphasis(m, Color::Cyan)))
            .block(Block::bordered().title(" latency (now = last interval, run = whole run) ")),
        area,
    );
}

fn draw_distribution(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let p = Phase::ALL[m.selected.min(Phase::ALL.len() - 1)];
    let t = m
        .frame
        .snapshot
        .phase(p)
        .map(|r| r.total)
        .unwrap_or_default();
    let points = [
        ("p50", t.p50),
        ("p90", t.p90),
        ("p99", t.p99),
        ("p99.9", t.p999),
        ("max", t.max),
    ];
    // Heights on a log scale (1 µs = 0), so p50 and the max both show;
    // the values go on a line of their own below, not over the bars.
    let log = |v: u64| ((v.max(1_000) as f64 / 1_000.0).log10() * 100.0) as u64;
    let bars: Vec<Bar> = points
        .iter()
        .map(|(l, v)| {
            Bar::default()
                .label(Line::from(*l))
                .value(log(*v))
                .text_value(String::new())
        })
        .collect();
    let block = Block::bordered().title(format!(" {} percentiles, log scale ", p.label()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [chart, values] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(6)
            .bar_gap(1)
            .bar_style(fg(m, Color::Cyan)),
        chart,
    );
    let text: Vec<String> = points
        .iter()
        .map(|(_, v)| format!("{:<7}", dur(*v)))
        .collect();
    f.render_widget(
        Paragraph::new(vec![Line::from(text.join("")), Line::from("")])
            .style(emphasis(m, Color::White)),
        values,
    );
}
