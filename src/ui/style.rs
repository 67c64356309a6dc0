//! How the TUI looks: the styles every panel uses (each honours NO_COLOR)
//! and the one duration cell format.

use ratatui::style::{Color, Modifier, Style};

use super::model::UiModel;

/// A duration cell: `-` for no samples, else the shared format.
pub fn dur(ns: u64) -> String {
    if ns == 0 {
        "-".into()
    } else {
        crate::metrics::format_ns(ns as f64)
    }
}

/// Foreground colour, or plain text under NO_COLOR.
pub(super) fn fg(m: &UiModel, c: Color) -> Style {
    if m.no_color {
        Style::default()
    } else {
        Style::default().fg(c)
    }
}

/// Bold and coloured (bold only under NO_COLOR): headers, highlights.
pub(super) fn emphasis(m: &UiModel, c: Color) -> Style {
    if m.no_color {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(c).add_modifier(Modifier::BOLD)
    }
}

/// The selected row (reversed under NO_COLOR).
pub(super) fn selected(m: &UiModel) -> Style {
    if m.no_color {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
            .bg(Color::DarkGray)
            .add_modifier(Modifier::BOLD)
    }
}
