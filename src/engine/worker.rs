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

use super::device::{self, Stage};
use super::dialer::Started;
use super::shared::Shared;
use crate::metrics::{IntervalData, LocalRecorder};
use crate::scenario::DevicePlan;

/// A device handed to a worker: its plan and, when the scheduler started
/// its first connect, that connect.
pub(crate) struct Arrival {
    pub plan: DevicePlan,
    pub started: Option<Started>,
}

/// Polls a device task, turning a panic into `Err(Panicked)` so the worker's
/// bookkeeping (the live count, the failure record) runs whatever happens
/// inside the task. Boxed: pinning without `unsafe`.
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);

/// A device task panicked; the panic's own message, for the failure sample.
struct Panicked {
    message: String,
}

impl<F: std::future::Future<Output = ()>> std::future::Future for CatchUnwind<F> {
    type Output = Result<(), Panicked>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(())) => std::task::Poll::Ready(Ok(())),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                std::task::Poll::Ready(Err(Panicked { message }))
            }
        }
    }
}

/// Starts a worker thread.
pub(crate) fn spawn(
    id: usize,
    mut rx: UnboundedReceiver<Arrival>,
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
                            Some(Arrival { plan: d, started }) => {
                                live.set(live.get() + 1);
                                let (sh, rec, live) = (sh.clone(), rec.clone(), live.clone());
                                tokio::task::spawn_local(async move {
                                    let stage = Rc::new(Cell::new(Stage::Between));
                                    let group = d.group;
                                    let task = device::run(sh.clone(), rec.clone(), d, started, stage.clone());
                                    if let Err(p) = CatchUnwind(Box::pin(task)).await {
                                        let at = sh.run_start.elapsed().as_millis() as u64;
                                        device::record_panic(&rec, at, group, stage.get(), &p.message);
                                    }
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

#[cfg(test)]
mod tests {
    use super::CatchUnwind;

    #[test]
    fn a_panicking_task_becomes_an_error_with_its_message() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(CatchUnwind(Box::pin(async {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
        })));
        assert!(r
            .err()
            .is_some_and(|p| p.message.contains("index out of bounds")));
        let ok = rt.block_on(CatchUnwind(Box::pin(async {})));
        assert!(ok.is_ok());
    }
}
