//! Worker threads: each runs a current-thread tokio runtime with a
//! `LocalSet`, owns a [`LocalRecorder`] its device tasks record into (no
//! lock, no atomic per sample), and hands the interval over once per tick.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::device;
use super::shared::Shared;
use crate::metrics::{IntervalData, LocalRecorder};
use crate::scenario::DevicePlan;

/// Starts a worker thread.
pub(crate) fn spawn(
    id: usize,
    mut rx: UnboundedReceiver<DevicePlan>,
    sh: Arc<Shared>,
    out: Sender<IntervalData>,
    tick: Duration,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("chainstorm-worker-{id}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("chainstorm: worker {id}: cannot start a runtime: {e}");
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let rec = Rc::new(RefCell::new(LocalRecorder::default()));
                let live = Rc::new(Cell::new(0usize));
                let mut ticker = tokio::time::interval(tick);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut open = true;
                loop {
                    tokio::select! {
                        m = rx.recv(), if open => match m {
                            Some(d) => {
                                live.set(live.get() + 1);
                                let (sh, rec, live) = (sh.clone(), rec.clone(), live.clone());
                                tokio::task::spawn_local(async move {
                                    device::run(sh, rec, d).await;
                                    live.set(live.get() - 1);
                                });
                            }
                            None => open = false,
                        },
                        _ = ticker.tick() => {
                            let _ = out.send(rec.borrow_mut().take());
                        }
                    }
                    if !open && live.get() == 0 {
                        break;
                    }
                }
                let _ = out.send(rec.borrow_mut().take());
            });
        })
}
