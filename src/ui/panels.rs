//! The table panels and overlays: failures, groups, endpoints, details, help.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::model::UiModel;
use super::style::{dur, emphasis, fg, selected};

pub(super) fn draw_failures(f: &mut Frame<'_>, m: &UiModel, area: Rect, selectable: bool) {
    let s = &m.frame.snapshot;
    let wide = area.width >= 120;
    let narrow = area.width < 100;
    let mut header = if narrow {
        vec!["phase", "cause", "group", "count", "now/s"]
    } else {
        vec![
            "phase", "cause", "group", "endpoint", "count", "share", "now/s",
        ]
    };
    if wide {
        header.push("sample");
    }
    let rows: Vec<Row> = s
        .failures
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut cells = if narrow {
                vec![
                    Cell::from(r.phase().label()),
                    Cell::from(r.cause.to_string()),
                    Cell::from(r.group.clone()),
                    Cell::from(r.count.to_string()),
                    Cell::from(format!("{:.1}", r.rate_now)),
                ]
            } else {
                vec![
                    Cell::from(r.phase().label()),
                    Cell::from(r.cause.to_string()),
                    Cell::from(r.group.clone()),
                    Cell::from(r.endpoint.label()),
                    Cell::from(r.count.to_string()),
                    Cell::from(format!("{:.1}%", r.share * 100.0)),
                    Cell::from(format!("{:.1}", r.rate_now)),
                ]
            };
            if wide {
                cells.push(Cell::from(r.sample.clone()));
            }
            let mut row = Row::new(cells);
            if m.is_new(r) {
                row = row.style(emphasis(m, Color::Red));
            }
            if selectable && i == m.selected {
                row = row.style(selected(m));
            }
            row
        })
        .collect();
    let mut widths = if narrow {
        vec![
            Constraint::Length(6),
            Constraint::Length(28),
            Constraint::Length(20),
            Constraint::Length(7),
            Constraint::Length(6),
        ]
    } else {
        vec![
            Constraint::Length(6),
            Constraint::Length(28),
            Constraint::Length(20),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
        ]
    };
    if wide {
        widths.push(Constraint::Min(20));
    }
    let title = if s.failures.is_empty() {
        " failures: none ".to_string()
    } else {
        format!(
            " failures: {} kinds, {} attempts (new kinds in bold) ",
            s.failures.len(),
            s.failed
        )
    };
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(emphasis(m, Color::Cyan)))
            .block(Block::bordered().title(title)),
        area,
    );
}

fn breakdown_table<'a>(
    m: &UiModel,
    rows: &'a [crate::metrics::BreakdownRow],
    first: &'a str,
    width: u16,
    selected_row: usize,
) -> Table<'a> {
    let with_profile = width >= 110;
    let narrow = width < 100;
    let mut header = vec![first];
    if with_profile {
        header.push("profile");
    }
    if narrow {
        header.extend(["connect p50", "connect p99", "verify p50", "failed"]);
    } else {
        header.extend([
            "connect p50",
            "connect p99",
            "verify p50",
            "verify p99",
            "ok",
            "failed",
        ]);
    }
    let body: Vec<Row> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut cells = vec![Cell::from(r.name.clone())];
            if with_profile {
                // A group on an emulated link shows it beside the profile.
                let p = match r.link.as_str() {
                    "" | "loopback" => r.profile.clone(),
                    link => format!("{} @ {link}", r.profile),
                };
                cells.push(Cell::from(p));
            }
            if narrow {
                cells.extend([
                    Cell::from(dur(r.connect_total.p50)),
                    Cell::from(dur(r.connect_total.p99)),
                    Cell::from(dur(r.chain_validation.p50)),
                    Cell::from(r.failed.to_string()),
                ]);
            } else {
                cells.extend([
                    Cell::from(dur(r.connect_total.p50)),
                    Cell::from(dur(r.connect_total.p99)),
                    Cell::from(dur(r.chain_validation.p50)),
                    Cell::from(dur(r.chain_validation.p99)),
                    Cell::from(r.connect_total.count.to_string()),
                    Cell::from(r.failed.to_string()),
                ]);
            }
            let row = Row::new(cells);
            if i == selected_row {
                row.style(selected(m))
            } else if r.failed > 0 {
                row.style(fg(m, Color::Red))
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![Constraint::Length(22)];
    if with_profile {
        widths.push(Constraint::Length(22));
    }
    widths.extend(std::iter::repeat_n(
        Constraint::Length(12),
        header.len() - widths.len(),
    ));
    Table::new(body, widths).header(Row::new(header).style(emphasis(m, Color::Cyan)))
}

pub(super) fn draw_groups(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let t = breakdown_table(m, &m.frame.snapshot.groups, "group", area.width, m.selected);
    f.render_widget(t.block(Block::bordered().title(" fleet groups ")), area);
}

pub(super) fn draw_endpoints(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let [top, bottom] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(area);
    let t = breakdown_table(
        m,
        &m.frame.snapshot.endpoints,
        "endpoint",
        area.width.min(109),
        m.selected,
    );
    f.render_widget(t.block(Block::bordered().title(" endpoints ")), top);
    if bottom.height >= 3 {
        draw_anchors(f, m, bottom);
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

pub(super) fn draw_details(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let Some(r) = m.frame.snapshot.failures.get(m.selected) else {
        return;
    };
    let lines = vec![
        Line::from(format!("{} · {}", r.phase().label(), r.cause)),
        Line::from(format!("group {} (profile {})", r.group, r.profile)),
        Line::from(format!("endpoint {}", r.endpoint.label())),
        Line::from(format!(
            "count {} ({:.1}% of failures), now {:.1}/s",
            r.count,
            r.share * 100.0,
            r.rate_now
        )),
        Line::from(format!(
            "first seen {:.1}s, last seen {:.1}s",
            r.first_seen_ms as f64 / 1000.0,
            r.last_seen_ms as f64 / 1000.0
        )),
        Line::from(""),
        Line::from(r.sample.clone()),
    ];
    let popup = centered(area, 76, 12);
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" failure details (Esc closes) ")),
        popup,
    );
}

pub(super) fn draw_help(f: &mut Frame<'_>, _m: &UiModel, area: Rect) {
    let text = vec![
        Line::from("q / Esc / Ctrl-C  stop: drain, write results, summary"),
        Line::from("p                 pause / resume arrivals"),
        Line::from("Tab               overview · failures · groups · endpoints"),
        Line::from("↑ ↓               select a phase or a row"),
        Line::from("Enter             details of the selected failure"),
        Line::from("h / ?             this help (any key closes it)"),
    ];
    let popup = centered(area, 62, 8);
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(text).block(Block::bordered().title(" keys ")),
        popup,
    );
}

/// Chain validation per anchor (path kind): p50 and p99 over the run.
pub(super) fn draw_anchors(f: &mut Frame<'_>, m: &UiModel, area: Rect) {
    let rows: Vec<Row> = m
        .frame
        .snapshot
        .anchors
        .iter()
        .map(|(a, s)| {
            Row::new(vec![
                Cell::from(a.label()),
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
