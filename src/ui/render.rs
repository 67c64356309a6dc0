//! Drawing the model. Pure: a function of the model and the area, so the
//! views are snapshot-tested with ratatui's TestBackend. Degrades on small
//! terminals by hiding panels, never by overlapping them.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Cell, Gauge, Paragraph, Row, Sparkline, Table, Tabs,
};
use ratatui::Frame;

use super::model::{UiModel, View};
use super::panels::{draw_details, draw_endpoints, draw_failures, draw_groups, draw_help};
use crate::metrics::{Phase, Stats};

/// A duration cell: `-` for no samples, else the shared format.
pub fn dur(ns: u64) -> String {
    if ns == 0 {
        "-".into()
    } else {
        crate::metrics::format_ns(ns as f64)
    }
}

pub(super) fn fg(m: &UiModel, c: Color) -> Style {
    if m.no_color {
        Style::default()
    } else {
        Style::default().fg(c)
    }
}

pub(super) fn emphasis(m: &UiModel, c: Color) -> Style {
    if m.no_color {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(c).add_modifier(Modifier::BOLD)
    }
}

pub(super) fn selected(m: &UiModel) -> Style {
    if m.no_color {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD)
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame<'_>, m: &UiModel) {
    let area = f.area();
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(2),
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
    // Thresholds come before the counters so a narrow terminal keeps them.
    let narrow = area.width < 110;
    let counts = if narrow {
        format!(
            "  att {} ok {} fail {} fly {}",
            s.attempted, s.succeeded, s.failed, s.in_flight
        )
    } else {
        format!(
            "  attempted {}  ok {}  failed {}  in flight {}",
            s.attempted, s.succeeded, s.failed, s.in_flight
        )
    };
    let line2 = Line::from(vec![
        Span::raw(format!("{:.1}s/{:.0}s ", s.elapsed_s, s.planned_s)),
        Span::styled(format!("[{}] ", s.state), emphasis(m, Color::Yellow)),
        Span::styled(
            if total == 0 {
                "no thresholds".to_string()
            } else {
                format!("thresholds {passing}/{total} pass")
            },
            th_style,
        ),
        Span::raw(counts),
    ]);
    f.render_widget(Paragraph::new(vec![line1, line2]), area);
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
    f.render_widget(
        Block::bordered().title(format!(
            " per second: attempted {:.0} · ok {:.0} · failed {:.0} ",
            s.attempted_rate, s.succeeded_rate, s.failed_rate
        )),
        spark,
    );
    let colors = [Color::Cyan, Color::Green, Color::Red];
    for (i, r) in rows.iter().enumerate() {
        let data = take(i);
        f.render_widget(Sparkline::default().data(&data).style(fg(m, colors[i])), *r);
    }
    let ratio = if s.planned_devices > 0 {
        (s.connected.max(0) as f64 / s.planned_devices as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    f.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" connected "))
            .gauge_style(fg(m, Color::Green))
            .ratio(ratio)
            .label(format!("{} / {}", s.connected, s.planned_devices)),
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
    let bars: Vec<Bar> = points
        .iter()
        .map(|(l, v)| {
            Bar::default()
                .label(Line::from(*l))
                .value(*v)
                .text_value(dur(*v))
        })
        .collect();
    f.render_widget(
        BarChart::default()
            .block(Block::bordered().title(format!(" {} percentiles ", p.label())))
            .data(BarGroup::default().bars(&bars))
            .bar_width(6)
            .bar_gap(1)
            .bar_style(fg(m, Color::Cyan))
            .value_style(emphasis(m, Color::White)),
        area,
    );
}

pub(super) fn draw_anchors(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let rows: Vec<Row> = m
        .frame
        .snapshot
        .anchors
        .iter()
        .map(|(a, s)| {
            Row::new(vec![
                Cell::from(a.clone()),
                Cell::from(dur(s.p50)),
                Cell::from(dur(s.p99)),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(14),
                Constraint::Length(9),
                Constraint::Length(9),
            ],
        )
        .header(Row::new(vec!["anchor/chain", "p50", "p99"]).style(emphasis(m, Color::Cyan)))
        .block(Block::bordered().title(" chain validation ")),
        area,
    );
}
