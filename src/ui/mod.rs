//! The live terminal UI (ratatui). It reads the frames the runner sends
//! once per tick and never touches the hot path; it redraws at most ten
//! times a second from the latest frame. Keys stop or pause the run through
//! the engine's [`Control`]. The terminal is restored on exit, on error and
//! on panic (ratatui's init installs the panic hook).

pub mod fuzz;
mod model;
mod panels;
mod render;
mod style;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};

pub use model::{Action, UiFrame, UiHeader, UiModel, View};
pub use render::draw;
pub use style::dur;

use crate::engine::Control;

/// Shortest time between two redraws (≤ 10 frames per second).
const FRAME: Duration = Duration::from_millis(100);

/// Whether NO_COLOR asks for no colours (set and not empty).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Runs the UI until `done` is set and the last frame is shown.
pub fn run(
    header: UiHeader,
    frames: Receiver<UiFrame>,
    control: Control,
    done: Arc<AtomicBool>,
) -> std::io::Result<UiExit> {
    let mut terminal = ratatui::init();
    let mut interrupted = false;
    let result = (|| {
        let mut model = UiModel::new(header, no_color());
        let mut last_draw = Instant::now() - FRAME;
        let mut dirty = true;
        loop {
            while let Ok(f) = frames.try_recv() {
                model.update(f);
                dirty = true;
            }
            let finished = done.load(Ordering::SeqCst);
            if dirty && last_draw.elapsed() >= FRAME {
                terminal.draw(|f| draw(f, &model))?;
                last_draw = Instant::now();
                dirty = false;
            }
            if finished {
                return Ok(());
            }
            let wait = FRAME
                .saturating_sub(last_draw.elapsed())
                .max(Duration::from_millis(10));
            if event::poll(wait)? {
                if let Event::Key(k) = event::read()? {
                    if k.kind == KeyEventKind::Press {
                        match model.on_key(k) {
                            Action::Stop => control.stop(),
                            Action::Interrupt => {
                                interrupted = true;
                                control.stop();
                            }
                            Action::TogglePause => control.set_paused(!control.paused()),
                            Action::None => {}
                        }
                        dirty = true;
                    }
                } else {
                    dirty = true;
                }
            }
        }
    })();
    ratatui::restore();
    result.map(|()| {
        if interrupted {
            UiExit::Interrupted
        } else {
            UiExit::Done
        }
    })
}

/// How the live view ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UiExit {
    /// The run finished (by itself, or after `q`/Esc).
    Done,
    /// Ctrl-C: the caller exits 130, as after SIGINT.
    Interrupted,
}
