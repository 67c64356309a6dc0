//! The fuzzer's live view: rate, classes seen, novelty over time, findings.
//! Drawing is pure, from a [`FuzzView`]; [`LiveFuzz`] owns the terminal,
//! updates and draws the view after every batch and reads the stop keys.

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;

use crate::fuzzer::campaign::Report;

/// What the live view shows, updated once per batch.
#[derive(Clone, Debug, Default)]
pub struct FuzzView {
    /// Target as text.
    pub target: String,
    /// Planned cases.
    pub planned: u64,
    /// The latest report.
    pub report: Report,
    /// Cases/s per batch (the rate over time).
    pub rate: Vec<u64>,
    /// Novel pairs found in each batch (novelty over time).
    pub novelty: Vec<u64>,
    last_cases: u64,
    last_seconds: f64,
    last_novel: usize,
}

impl FuzzView {
    /// A view of a campaign against `target`.
    pub fn new(target: String, planned: u64) -> FuzzView {
        FuzzView {
            target,
            planned,
            ..FuzzView::default()
        }
    }

    /// Takes the report after a batch.
    pub fn update(&mut self, r: &Report) {
        let dt = (r.seconds - self.last_seconds).max(1e-6);
        self.rate
            .push(((r.cases - self.last_cases) as f64 / dt) as u64);
        self.novelty.push((r.novel.len() - self.last_novel) as u64);
        (self.last_cases, self.last_seconds, self.last_novel) = (r.cases, r.seconds, r.novel.len());
        self.report = r.clone();
    }
}

/// The live view on the terminal: the alternate screen while it lives,
/// restored on drop.
pub struct LiveFuzz {
    view: FuzzView,
    terminal: ratatui::DefaultTerminal,
    interrupted: bool,
}

impl LiveFuzz {
    /// Takes over the terminal.
    pub fn start(target: String, planned: u64) -> LiveFuzz {
        LiveFuzz {
            view: FuzzView::new(target, planned),
            terminal: ratatui::init(),
            interrupted: false,
        }
    }

    /// Draws the report after a batch; false when the user asked to stop
    /// (q, Esc, or Ctrl-C, which raw mode delivers as a key).
    pub fn on_batch(&mut self, r: &Report) -> bool {
        use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
        self.view.update(r);
        let _ = self.terminal.draw(|f| draw_fuzz(f, &self.view));
        let mut go_on = true;
        while event::poll(std::time::Duration::ZERO).unwrap_or(false) {
            if let Ok(Event::Key(k)) = event::read() {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                if k.kind == KeyEventKind::Press
                    && (ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc))
                {
                    self.interrupted |= ctrl_c;
                    go_on = false;
                }
            }
        }
        go_on
    }

    /// True when Ctrl-C stopped the campaign (exit 130, as headless).
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }
}

impl Drop for LiveFuzz {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Draws the view.
pub fn draw_fuzz(f: &mut Frame, v: &FuzzView) {
    let r = &v.report;
    let [head, spark, body] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(5),
        Constraint::Min(5),
    ])
    .areas(f.area());
    let text = format!(" {}   q: stop", r.progress(v.planned));
    f.render_widget(
        Paragraph::new(Line::from(text)).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" chainstorm fuzz → {} ", v.target)),
        ),
        head,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(spark);
    let tail =
        |s: &[u64], w: u16| s[s.len().saturating_sub(usize::from(w)).min(s.len())..].to_vec();
    f.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" cases/s per batch "),
            )
            .data(tail(&v.rate, left.width.saturating_sub(2))),
        left,
    );
    f.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" new (operator, class) pairs per batch "),
            )
            .data(tail(&v.novelty, right.width.saturating_sub(2))),
        right,
    );
    let [classes, findings] =
        Layout::horizontal([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(body);
    let mut rows: Vec<(&String, &u64)> = r.classes.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let table = Table::new(
        rows.into_iter().map(|(k, n)| {
            let (op, class) = k.split_once('|').unwrap_or((k, ""));
            Row::new(vec![op.to_string(), class.to_string(), n.to_string()])
        }),
        [
            Constraint::Percentage(40),
            Constraint::Percentage(45),
            Constraint::Percentage(15),
        ],
    )
    .header(
        Row::new(vec!["operator", "class", "count"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(Block::default().borders(Borders::ALL).title(" classes "));
    f.render_widget(table, classes);
    let lines: Vec<Line> = if r.findings.is_empty() {
        vec![Line::from("none")]
    } else {
        r.findings
            .iter()
            .rev()
            .map(|x| Line::from(format!("{} {} {}", x.id, x.operator, x.detail)))
            .collect()
    };
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" findings (newest first) "),
        ),
        findings,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn shows_rate_classes_novelty_and_findings() {
        let mut v = FuzzView::new("127.0.0.1:8883".into(), 5000);
        let mut r = Report {
            cases: 1000,
            seconds: 0.5,
            cases_per_s: 2000.0,
            ..Report::default()
        };
        r.classes.insert("truncate|timeout".into(), 40);
        r.classes.insert("valid|server_hello".into(), 44);
        r.novel = vec!["truncate|timeout".into(), "valid|server_hello".into()];
        v.update(&r);
        assert_eq!(v.rate, vec![2000]);
        assert_eq!(v.novelty, vec![2]);
        r.cases = 2000;
        r.seconds = 1.5;
        v.update(&r);
        assert_eq!(v.rate, vec![2000, 1000]);
        assert_eq!(v.novelty, vec![2, 0]);
        let mut t = Terminal::new(TestBackend::new(110, 24)).unwrap();
        t.draw(|f| draw_fuzz(f, &v)).unwrap();
        let screen: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        for want in [
            "2000 / 5000 cases",
            "2 novel",
            "valid",
            "server_hello",
            "truncate",
            "findings",
            "none",
        ] {
            assert!(screen.contains(want), "{want} missing");
        }
    }
}
