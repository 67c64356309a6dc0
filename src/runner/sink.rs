//! Where each tick of a run goes besides the caller's observer: the interval
//! log and the timeseries (appended and flushed every tick, so an
//! interrupted run keeps what it measured) and the live `/metrics` page.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{RunError, RunOptions};
use crate::live::{MetricsServer, Page};
use crate::metrics::{exposition, Labels};
use crate::results::{HlogWriter, ResultsError, TimeseriesWriter};
use crate::scenario::Scenario;

/// The run's per-tick outputs.
pub(super) struct Sink {
    hlog: HlogWriter,
    ts: TimeseriesWriter,
    /// The first write error; later ticks stop writing, the run goes on and
    /// the error is returned at the end.
    write_error: Option<ResultsError>,
    last_elapsed: f64,
    live: Option<Live>,
}

/// The `/metrics` page and what its samples are labelled with.
struct Live {
    page: Page,
    labels: Labels,
    /// `run_id` and `shard`, on every sample.
    extra: Vec<(&'static str, String)>,
    _server: MetricsServer,
}

impl Sink {
    /// Creates `latency.hlog` and `timeseries.csv` in `dir` and starts the
    /// metrics server when asked.
    pub fn open(s: &Scenario, opts: &RunOptions, dir: &Path) -> Result<Sink, RunError> {
        let hlog = HlogWriter::create(
            &dir.join("latency.hlog"),
            s.group_names(),
            SystemTime::now(),
        )?;
        let ts = TimeseriesWriter::create(&dir.join("timeseries.csv"))?;
        let live = match opts.metrics_listen {
            None => None,
            Some(addr) => {
                let page = Page::default();
                let server =
                    MetricsServer::start(addr, page.clone()).map_err(|source| RunError::Start {
                        what: format!("--metrics-listen {addr}"),
                        source,
                    })?;
                let mut extra = Vec::new();
                if let Some(id) = &opts.run_id {
                    extra.push(("run_id", id.clone()));
                }
                if let Some(sh) = opts.shard {
                    extra.push(("shard", sh.to_string()));
                }
                Some(Live {
                    page,
                    labels: s.labels(),
                    extra,
                    _server: server,
                })
            }
        };
        Ok(Sink {
            hlog,
            ts,
            write_error: None,
            last_elapsed: 0.0,
            live,
        })
    }

    /// Takes in one tick.
    pub fn tick(&mut self, tick: &crate::engine::Tick<'_>) {
        let offset = Duration::from_secs_f64(self.last_elapsed.max(0.0));
        let len = Duration::from_secs_f64((tick.elapsed_s - self.last_elapsed).max(0.0));
        self.last_elapsed = tick.elapsed_s;
        if self.write_error.is_none() {
            if let Err(e) = self
                .hlog
                .write(tick.interval, offset, len)
                .and_then(|_| self.ts.write(tick.interval, tick.snapshot))
            {
                self.write_error = Some(e);
            }
        }
        if let Some(l) = &self.live {
            let extra: Vec<(&str, &str)> = l.extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            l.page.set(exposition::render(
                tick.aggregate,
                tick.snapshot,
                &l.labels,
                &extra,
            ));
        }
    }

    /// Closes the files; the first write error of the run, if any.
    pub fn finish(self) -> Result<(), RunError> {
        if let Some(e) = self.write_error {
            return Err(e.into());
        }
        self.hlog.finish()?;
        self.ts.finish()?;
        Ok(())
    }
}
