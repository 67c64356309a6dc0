//! The UI's state: the latest frame, a short rate history, which failure
//! kinds are new, the current view and selection. Updated from frames and
//! keys; rendering reads it and never computes over samples.

use std::collections::{HashMap, VecDeque};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::metrics::{Phase, Snapshot};

/// What the UI is given each tick.
#[derive(Clone, Debug, Default)]
pub struct UiFrame {
    /// The engine's snapshot.
    pub snapshot: Snapshot,
    /// Thresholds evaluated on the run so far: (key and condition, passing).
    pub thresholds: Vec<(String, bool)>,
}

/// Fixed facts for the header.
#[derive(Clone, Debug, Default)]
pub struct UiHeader {
    /// Scenario name.
    pub scenario: String,
    /// Target description.
    pub target: String,
    /// Seed.
    pub seed: u64,
}

impl UiHeader {
    /// The header of a scenario's run.
    pub fn for_scenario(s: &crate::scenario::Scenario) -> UiHeader {
        use crate::scenario::schema::TargetKind;
        UiHeader {
            scenario: s.name.clone(),
            target: match s.target.kind {
                TargetKind::Embedded => "embedded mock endpoint".into(),
                TargetKind::External => s
                    .target
                    .addresses
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            seed: s.seed,
        }
    }
}

/// The views `Tab` cycles through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Rates, latency table, distribution, top failures.
    Overview,
    /// The whole failure table, rows selectable.
    Failures,
    /// Per fleet group.
    Groups,
    /// Per endpoint kind and anchor.
    Endpoints,
}

impl View {
    /// Name in the tab bar.
    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Failures => "Failures",
            View::Groups => "Groups",
            View::Endpoints => "Endpoints",
        }
    }

    fn next(self) -> View {
        match self {
            View::Overview => View::Failures,
            View::Failures => View::Groups,
            View::Groups => View::Endpoints,
            View::Endpoints => View::Overview,
        }
    }
}

/// What a key asks the run to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond the UI.
    None,
    /// Stop gracefully (drain, write results): `q` or Esc.
    Stop,
    /// Ctrl-C, which raw mode delivers as a key: stop as `Stop` does, and
    /// exit 130 as a headless run would after SIGINT.
    Interrupt,
    /// Pause or resume arrivals.
    TogglePause,
}

/// Seconds a new failure kind stays highlighted.
pub const NEW_FOR_S: f64 = 5.0;
/// Ticks of rate history kept for the sparklines.
pub const HISTORY: usize = 240;

/// The UI state.
#[derive(Clone, Debug)]
pub struct UiModel {
    /// Header facts.
    pub header: UiHeader,
    /// Latest frame.
    pub frame: UiFrame,
    /// (attempted, succeeded, failed) per second, oldest first.
    pub history: VecDeque<(u64, u64, u64)>,
    /// When each failure kind was first seen, s.
    pub first_seen: HashMap<FailureId, f64>,
    /// Current view.
    pub view: View,
    /// Selected row in the failure table (Failures view) or phase (Overview).
    pub selected: usize,
    /// Details popup open.
    pub details: bool,
    /// Help overlay open.
    pub help: bool,
    /// NO_COLOR set: modifiers only.
    pub no_color: bool,
    /// Stop requested.
    pub stopping: bool,
}

/// What identifies a failure kind: cause (which implies the phase), fleet
/// group name, endpoint kind.
pub type FailureId = (crate::metrics::Cause, String, crate::metrics::EndpointKind);

/// The key that identifies a failure kind.
pub fn failure_id(f: &crate::metrics::FailureRow) -> FailureId {
    (f.cause.clone(), f.group.clone(), f.endpoint)
}

impl UiModel {
    /// A model with no data yet.
    pub fn new(header: UiHeader, no_color: bool) -> UiModel {
        UiModel {
            header,
            frame: UiFrame::default(),
            history: VecDeque::new(),
            first_seen: HashMap::new(),
            view: View::Overview,
            selected: 0,
            details: false,
            help: false,
            no_color,
            stopping: false,
        }
    }

    /// Takes in a frame.
    pub fn update(&mut self, f: UiFrame) {
        let s = &f.snapshot;
        self.history.push_back((
            s.attempted_rate.round() as u64,
            s.succeeded_rate.round() as u64,
            s.failed_rate.round() as u64,
        ));
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        for row in &s.failures {
            self.first_seen
                .entry(failure_id(row))
                .or_insert(row.first_seen_ms as f64 / 1000.0);
        }
        self.frame = f;
        let rows = self.rows();
        if self.selected >= rows.max(1) {
            self.selected = rows.saturating_sub(1);
        }
    }

    fn rows(&self) -> usize {
        match self.view {
            View::Overview => Phase::ALL.len(),
            View::Failures => self.frame.snapshot.failures.len(),
            View::Groups => self.frame.snapshot.groups.len(),
            View::Endpoints => self.frame.snapshot.endpoints.len(),
        }
    }

    /// Whether a failure kind first appeared within the last few seconds
    /// (by the engine's first-seen time, so it holds even if the UI missed frames).
    pub fn is_new(&self, f: &crate::metrics::FailureRow) -> bool {
        let first = self
            .first_seen
            .get(&failure_id(f))
            .copied()
            .unwrap_or(f64::INFINITY)
            .min(f.first_seen_ms as f64 / 1000.0);
        self.frame.snapshot.elapsed_s - first < NEW_FOR_S
    }

    /// Handles a key.
    pub fn on_key(&mut self, k: KeyEvent) -> Action {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.stopping = true;
            return Action::Interrupt;
        }
        if self.help {
            self.help = false;
            return Action::None;
        }
        match k.code {
            KeyCode::Char('q') => {
                self.stopping = true;
                Action::Stop
            }
            KeyCode::Esc if self.details => {
                self.details = false;
                Action::None
            }
            KeyCode::Esc => {
                self.stopping = true;
                Action::Stop
            }
            KeyCode::Char('p') => Action::TogglePause,
            KeyCode::Tab => {
                self.view = self.view.next();
                self.selected = 0;
                self.details = false;
                Action::None
            }
            KeyCode::Up => {
                self.selected = self.selected.saturating_sub(1);
                Action::None
            }
            KeyCode::Down => {
                if self.selected + 1 < self.rows() {
                    self.selected += 1;
                }
                Action::None
            }
            KeyCode::Enter => {
                if self.view == View::Overview && !self.frame.snapshot.failures.is_empty() {
                    self.view = View::Failures;
                    self.selected = 0;
                }
                self.details =
                    self.view == View::Failures && !self.frame.snapshot.failures.is_empty();
                Action::None
            }
            KeyCode::Char('h') | KeyCode::Char('?') => {
                self.help = true;
                Action::None
            }
            _ => Action::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn keys_drive_views_and_actions() {
        let mut m = UiModel::new(UiHeader::default(), false);
        assert_eq!(m.on_key(key(KeyCode::Tab)), Action::None);
        assert_eq!(m.view, View::Failures);
        assert_eq!(m.on_key(key(KeyCode::Char('p'))), Action::TogglePause);
        assert_eq!(m.on_key(key(KeyCode::Char('?'))), Action::None);
        assert!(m.help);
        // Any key closes the help overlay and does nothing else.
        assert_eq!(m.on_key(key(KeyCode::Char('q'))), Action::None);
        assert!(!m.help);
        assert_eq!(m.on_key(key(KeyCode::Char('q'))), Action::Stop);
        let mut m = UiModel::new(UiHeader::default(), false);
        assert_eq!(
            m.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Interrupt
        );
    }
}
