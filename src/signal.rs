//! The one owner of SIGINT and SIGTERM. The first signal asks the current
//! job to stop gracefully (drain, write results); a second one exits at
//! once with 128 + signal. Nothing measured is lost by that exit: results
//! files are appended and flushed every tick (see `results`).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Signals received by this process.
#[derive(Clone, Debug)]
pub struct Signals {
    received: Arc<AtomicU8>,
}

impl Signals {
    /// Starts the signal thread; `on_first` runs once, on the first signal,
    /// with its number (2 or 15).
    pub fn install(on_first: impl FnOnce(u8) + Send + 'static) -> std::io::Result<Signals> {
        let received = Arc::new(AtomicU8::new(0));
        let seen = received.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Registered here, before the thread runs, so a signal that comes
        // while the caller is still starting is not missed.
        let (mut term, mut int) = rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })?;
        std::thread::Builder::new()
            .name("chainstorm-signals".into())
            .spawn(move || {
                rt.block_on(async move {
                    let mut on_first = Some(on_first);
                    loop {
                        let sig = tokio::select! {
                            _ = int.recv() => 2,
                            _ = term.recv() => 15,
                        };
                        if seen.swap(sig, Ordering::SeqCst) != 0 {
                            eprintln!("chainstorm: second signal ({sig}): exiting now; results so far are on disk");
                            std::process::exit(128 + i32::from(sig));
                        }
                        if let Some(f) = on_first.take() {
                            f(sig);
                        }
                    }
                });
            })?;
        Ok(Signals { received })
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<u8> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// 128 + the first signal, the conventional exit code after one.
    pub fn exit_code(&self) -> Option<u8> {
        self.received().map(|s| 128 + s)
    }

    /// Records a stop the UI saw as a key (Ctrl-C in raw mode reaches the
    /// program as a key, not as SIGINT), so exit codes match headless runs.
    pub fn note_interrupt(&self) {
        let _ = self
            .received
            .compare_exchange(0, 2, Ordering::SeqCst, Ordering::SeqCst);
    }
}
