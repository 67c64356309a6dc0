//! `chainstorm run SCENARIO`: the TUI on a terminal, progress lines
//! otherwise; results written either way; exit 0 pass, 1 thresholds
//! failed, 2 bad input, 128 + N after signal N (130 for Ctrl-C in the TUI).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use chainstorm::engine::Control;
use chainstorm::results::Verdict;
use chainstorm::runner::{self, RunOptions, RunOutcome};
use chainstorm::scenario::Scenario;
use chainstorm::signal::Signals;
use chainstorm::ui::{UiExit, UiFrame, UiHeader};

use crate::args::RunArgs;

/// Runs the verb.
pub fn run(a: RunArgs) -> Result<ExitCode> {
    // The TUI when stdout and stdin are a terminal, unless asked otherwise.
    let tui =
        !a.no_tui && !a.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let opts = options(&a, tui)?;
    let control = Control::new();
    // Installed before loading, so a signal while loading or planning is
    // seen too; the run then stops at its first tick.
    let signals = {
        let control = control.clone();
        Signals::install(move |sig| {
            eprintln!("chainstorm: stopping (signal {sig}): draining, then writing results");
            control.stop();
        })
        .context("installing the signal handlers")?
    };
    let scenario = runner::prepare(&a.scenario, &opts)?;
    let outcome = if tui {
        run_with_tui(scenario, opts, control, &signals)?
    } else {
        runner::run_scenario(scenario, opts, control, |_| {})?
    };
    if a.json {
        let text = serde_json::to_string_pretty(&outcome.summary)?;
        outln!("{text}");
    } else {
        let text = runner::render(&outcome);
        outln!("{text}");
    }
    // A shard records its verdict but does not fail on it: thresholds hold
    // for the whole run, and `merge` decides them.
    let shard = a.shard.is_some();
    Ok(match signals.exit_code() {
        Some(code) => ExitCode::from(code),
        None if outcome.summary.verdict != Verdict::Pass && !shard => ExitCode::from(1),
        None => ExitCode::SUCCESS,
    })
}

fn options(a: &RunArgs, tui: bool) -> Result<RunOptions> {
    Ok(RunOptions {
        allow_remote: a.allow_remote,
        output_dir: a.output.clone(),
        progress: !a.quiet && !tui,
        duration: a.duration_s.map(Duration::from_secs_f64),
        devices: a.devices,
        pki: None,
        max_rate: a.max_rate,
        shard: match &a.shard {
            None => None,
            Some(s) => Some(runner::parse_shard(s)?),
        },
        metrics_listen: a.metrics_listen,
        run_id: match &a.run_id {
            None => None,
            Some(id) => {
                runner::check_run_id(id)?;
                Some(id.clone())
            }
        },
    })
}

/// The run on its own thread, the TUI on this one; frames go from the
/// run's tick callback to the UI over a small channel (dropped when the UI
/// lags, never blocking the run).
fn run_with_tui(
    scenario: Scenario,
    opts: RunOptions,
    control: Control,
    signals: &Signals,
) -> Result<RunOutcome> {
    let header = UiHeader::for_scenario(&scenario);
    let (ui_tx, ui_rx) = std::sync::mpsc::sync_channel::<UiFrame>(4);
    let done = Arc::new(AtomicBool::new(false));
    let worker = {
        let (control, done) = (control.clone(), done.clone());
        std::thread::Builder::new()
            .name("chainstorm-run".into())
            .spawn(move || {
                let r = runner::run_scenario(scenario, opts, control, |t| {
                    let _ = ui_tx.try_send(UiFrame {
                        snapshot: t.snapshot.clone(),
                        thresholds: t.thresholds(),
                    });
                });
                done.store(true, Ordering::SeqCst);
                r
            })
            .context("starting the run thread")?
    };
    let ui_result = chainstorm::ui::run(header, ui_rx, control.clone(), done);
    if ui_result.is_err() {
        // The run goes on headless if the terminal fails; stop it cleanly.
        control.stop();
    }
    let outcome = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the run thread panicked"))??;
    if ui_result.context("terminal UI")? == UiExit::Interrupted {
        signals.note_interrupt();
    }
    Ok(outcome)
}
