//! `timeseries.csv`: one row per tick.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{write_err, ResultsError};
use crate::metrics::{FailPhase, IntervalData, Phase, Snapshot};

/// Appends rows to `timeseries.csv` and `failures.csv`.
pub struct TimeseriesWriter {
    path: PathBuf,
    out: BufWriter<File>,
    fpath: PathBuf,
    fout: BufWriter<File>,
}

const LATENCY: [Phase; 5] = [
    Phase::TcpConnect,
    Phase::TlsHandshake,
    Phase::ChainValidation,
    Phase::MqttConnack,
    Phase::ConnectTotal,
];

impl TimeseriesWriter {
    /// Creates the file with its header.
    pub fn create(path: &Path) -> Result<TimeseriesWriter, ResultsError> {
        let f = File::create(path).map_err(write_err(path))?;
        let fpath = path.with_file_name("failures.csv");
        let ff = File::create(&fpath).map_err(write_err(&fpath))?;
        let mut w = TimeseriesWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            fpath,
            fout: BufWriter::new(ff),
        };
        writeln!(w.fout, "elapsed_s,phase,cause,count").map_err(write_err(&w.fpath))?;
        let mut header = String::from(
            "elapsed_s,attempted,succeeded,failed,failed_dial,failed_tls,failed_verify,failed_mqtt,failed_hold,connected,in_flight",
        );
        for p in LATENCY {
            header.push_str(&format!(",{0}_p50_ns,{0}_p99_ns", p.label()));
        }
        writeln!(w.out, "{header}").map_err(write_err(path))?;
        Ok(w)
    }

    /// Writes one tick: counts of the interval, gauges, interval percentiles.
    pub fn write(&mut self, interval: &IntervalData, snap: &Snapshot) -> Result<(), ResultsError> {
        let c = &interval.counts;
        let f = |p: FailPhase| c.failed_by_phase[p as usize];
        let mut row = format!(
            "{:.3},{},{},{},{},{},{},{},{},{},{}",
            snap.elapsed_s,
            c.attempted,
            c.succeeded,
            c.failed(),
            f(FailPhase::Dial),
            f(FailPhase::Tls),
            f(FailPhase::Verify),
            f(FailPhase::Mqtt),
            f(FailPhase::Hold),
            snap.connected,
            snap.in_flight
        );
        for p in LATENCY {
            let s = snap.phase(p).map(|r| r.interval).unwrap_or_default();
            row.push_str(&format!(",{},{}", s.p50, s.p99));
        }
        writeln!(self.out, "{row}").map_err(write_err(&self.path))?;
        // Failures by cause in this interval, all groups together.
        let mut by_cause: std::collections::BTreeMap<(&str, &str), u64> =
            std::collections::BTreeMap::new();
        for (k, f) in &interval.failures {
            *by_cause
                .entry((k.phase.label(), k.cause.as_str()))
                .or_default() += f.count;
        }
        for ((phase, cause), n) in by_cause {
            // Causes never hold a comma or a quote (they are taxonomy labels).
            writeln!(self.fout, "{:.3},{phase},{cause},{n}", snap.elapsed_s)
                .map_err(write_err(&self.fpath))?;
        }
        Ok(())
    }

    /// Flushes to disk.
    pub fn finish(mut self) -> Result<(), ResultsError> {
        self.fout.flush().map_err(write_err(&self.fpath))?;
        self.out.flush().map_err(write_err(&self.path))
    }
}
