//! `timeseries.csv` (one row per tick) and `failures.csv` (per tick, one
//! row per phase × cause seen so far in the run, `0` in ticks without that
//! failure, so a plot of a cause drops to zero instead of ending). Rows are [`TimeseriesRow`]s,
//! written and read by header name, so a reader never depends on a column's
//! position. Both files are flushed every tick: after a `kill -9` they hold
//! every complete tick.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{read_err, write_err, ResultsError};
use crate::metrics::{Cause, FailPhase, IntervalData, Phase, RunState, Snapshot};

/// The latency phases whose interval p50/p99 each row carries.
pub const LATENCY: [Phase; 5] = [
    Phase::TcpConnect,
    Phase::TlsHandshake,
    Phase::ChainValidation,
    Phase::MqttConnack,
    Phase::ConnectTotal,
];

/// One tick of `timeseries.csv`. Counts are for the interval; `connected`
/// and `in_flight` are gauges at its end; latencies are nanoseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeseriesRow {
    /// Seconds since the run started, at the end of the interval.
    pub elapsed_s: f64,
    /// Attempts started.
    pub attempted: u64,
    /// Attempts that reached their goal.
    pub succeeded: u64,
    /// Failed attempts by phase, indexed by [`FailPhase`].
    pub failed_by_phase: [u64; 6],
    /// Connected sessions at the end of the interval.
    pub connected: i64,
    /// Attempts in flight at the end of the interval.
    pub in_flight: u64,
    /// (p50, p99) ns of the interval per phase of [`LATENCY`].
    pub latency: [(u64, u64); 5],
    /// Where the run was at the end of the interval: `draining` marks the
    /// ticks after a stop (signal, key or end of arrivals).
    pub state: RunState,
}

impl TimeseriesRow {
    /// The row of one tick.
    pub fn of(interval: &IntervalData, snap: &Snapshot) -> Self {
        let mut latency = [(0, 0); 5];
        for (slot, p) in latency.iter_mut().zip(LATENCY) {
            let s = snap.phase(p).map(|r| r.interval).unwrap_or_default();
            *slot = (s.p50, s.p99);
        }
        TimeseriesRow {
            elapsed_s: snap.elapsed_s,
            attempted: interval.counts.attempted,
            succeeded: interval.counts.succeeded,
            failed_by_phase: interval.counts.failed_by_phase,
            connected: snap.connected,
            in_flight: snap.in_flight,
            latency,
            state: snap.state,
        }
    }

    /// Failed attempts (every phase but hold).
    pub fn failed(&self) -> u64 {
        let all: u64 = self.failed_by_phase.iter().sum();
        all - self.failed_by_phase[FailPhase::Hold as usize]
    }

    /// The header line's column names, in order.
    pub fn header() -> Vec<String> {
        let mut h: Vec<String> = ["elapsed_s", "attempted", "succeeded", "failed"]
            .map(String::from)
            .into();
        h.extend(
            FailPhase::ALL
                .iter()
                .map(|p| format!("failed_{}", p.label())),
        );
        h.push("connected".into());
        h.push("in_flight".into());
        for p in LATENCY {
            h.push(format!("{}_p50_ns", p.label()));
            h.push(format!("{}_p99_ns", p.label()));
        }
        h.push("state".into());
        h
    }

    fn values(&self) -> Vec<String> {
        let mut v = vec![
            format!("{:.3}", self.elapsed_s),
            self.attempted.to_string(),
            self.succeeded.to_string(),
            self.failed().to_string(),
        ];
        v.extend(self.failed_by_phase.iter().map(u64::to_string));
        v.push(self.connected.to_string());
        v.push(self.in_flight.to_string());
        for (p50, p99) in self.latency {
            v.push(p50.to_string());
            v.push(p99.to_string());
        }
        v.push(self.state.label().into());
        v
    }

    /// Parses one line given the file's header. A column the file lacks
    /// (an older layout without `failed_internal`) reads as zero.
    pub fn parse(header: &[&str], line: &str) -> Option<TimeseriesRow> {
        let fields: Vec<&str> = line.split(',').collect();
        let get = |name: &str| -> Option<&str> {
            let i = header.iter().position(|h| *h == name)?;
            fields.get(i).copied()
        };
        let num = |name: &str| -> Option<u64> {
            match get(name) {
                None => Some(0),
                Some(v) => v.parse().ok(),
            }
        };
        let gauge = |name: &str| -> Option<i64> { get(name).unwrap_or("0").parse().ok() };
        let mut row = TimeseriesRow {
            elapsed_s: get("elapsed_s")?.parse().ok()?,
            attempted: num("attempted")?,
            succeeded: num("succeeded")?,
            connected: gauge("connected")?,
            in_flight: num("in_flight")?,
            ..TimeseriesRow::default()
        };
        for p in FailPhase::ALL {
            row.failed_by_phase[p as usize] = num(&format!("failed_{}", p.label()))?;
        }
        for (slot, p) in row.latency.iter_mut().zip(LATENCY) {
            *slot = (
                num(&format!("{}_p50_ns", p.label()))?,
                num(&format!("{}_p99_ns", p.label()))?,
            );
        }
        if let Some(st) = get("state") {
            row.state = RunState::from_label(st)?;
        }
        Some(row)
    }
}

/// Reads every row of a `timeseries.csv`.
pub fn read_timeseries(path: &Path) -> Result<Vec<TimeseriesRow>, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if !header.contains(&"elapsed_s") {
        return Err(ResultsError::Malformed {
            path: path.to_path_buf(),
            line: Some(1),
            what: "not a timeseries.csv (no elapsed_s column)".into(),
        });
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            TimeseriesRow::parse(&header, l).ok_or_else(|| ResultsError::Malformed {
                path: path.to_path_buf(),
                line: Some(i + 2),
                what: "malformed row".into(),
            })
        })
        .collect()
}

/// One row of `failures.csv`: failures of one cause in one tick.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureCsvRow {
    /// Seconds since the run started, at the end of the interval.
    pub elapsed_s: f64,
    /// The cause (with its phase).
    pub cause: Cause,
    /// Failures in the interval.
    pub count: u64,
}

/// One CSV field as RFC 4180 writes it: quoted when it holds a comma, a
/// quote or a line break (device-model causes carry sizes like `4,792 B`).
pub(crate) fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Splits one CSV line, undoing [`csv_field`]'s quoting.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Reads every row of a `failures.csv`, by header name.
pub fn read_failures(path: &Path) -> Result<Vec<FailureCsvRow>, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(t), Some(p), Some(c), Some(n)) =
        (col("elapsed_s"), col("phase"), col("cause"), col("count"))
    else {
        return Err(ResultsError::Malformed {
            path: path.to_path_buf(),
            line: Some(1),
            what: "not a failures.csv (needs elapsed_s, phase, cause, count)".into(),
        });
    };
    let mut out = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let f = split_csv(line);
        let row = (|| {
            let phase = FailPhase::from_label(f.get(p)?)?;
            Some(FailureCsvRow {
                elapsed_s: f.get(t)?.parse().ok()?,
                cause: Cause::parse(phase, f.get(c)?.as_str())?,
                count: f.get(n)?.parse().ok()?,
            })
        })();
        out.push(row.ok_or_else(|| ResultsError::Malformed {
            path: path.to_path_buf(),
            line: Some(i + 2),
            what: "malformed row".into(),
        })?);
    }
    Ok(out)
}

/// Appends rows to `timeseries.csv` and `failures.csv`.
pub struct TimeseriesWriter {
    path: PathBuf,
    out: BufWriter<File>,
    fpath: PathBuf,
    fout: BufWriter<File>,
    causes_seen: std::collections::BTreeSet<(FailPhase, String)>,
}

impl TimeseriesWriter {
    /// Creates both files with their headers.
    pub fn create(path: &Path) -> Result<TimeseriesWriter, ResultsError> {
        let f = File::create(path).map_err(write_err(path))?;
        let fpath = path.with_file_name("failures.csv");
        let ff = File::create(&fpath).map_err(write_err(&fpath))?;
        let mut w = TimeseriesWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            fpath,
            fout: BufWriter::new(ff),
            causes_seen: std::collections::BTreeSet::new(),
        };
        writeln!(w.fout, "elapsed_s,phase,cause,count").map_err(write_err(&w.fpath))?;
        writeln!(w.out, "{}", TimeseriesRow::header().join(",")).map_err(write_err(path))?;
        w.flush()?;
        Ok(w)
    }

    /// Writes one tick: counts of the interval, gauges, interval
    /// percentiles, and its failures by cause; then flushes both files.
    pub fn write(&mut self, interval: &IntervalData, snap: &Snapshot) -> Result<(), ResultsError> {
        self.write_row(&TimeseriesRow::of(interval, snap))?;
        // Failures by cause in this interval, all groups together.
        let mut by_cause: std::collections::BTreeMap<(FailPhase, String), u64> =
            std::collections::BTreeMap::new();
        for (k, f) in &interval.failures {
            *by_cause
                .entry((k.phase(), k.cause.to_string()))
                .or_default() += f.count;
        }
        self.causes_seen.extend(by_cause.keys().cloned());
        for key @ (phase, cause) in &self.causes_seen {
            let n = by_cause.get(key).copied().unwrap_or(0);
            writeln!(
                self.fout,
                "{:.3},{},{},{n}",
                snap.elapsed_s,
                phase.label(),
                csv_field(cause)
            )
            .map_err(write_err(&self.fpath))?;
        }
        self.flush()
    }

    /// Writes a row as it is (merge builds rows from several shards).
    pub fn write_row(&mut self, row: &TimeseriesRow) -> Result<(), ResultsError> {
        writeln!(self.out, "{}", row.values().join(",")).map_err(write_err(&self.path))
    }

    fn flush(&mut self) -> Result<(), ResultsError> {
        self.fout.flush().map_err(write_err(&self.fpath))?;
        self.out.flush().map_err(write_err(&self.path))
    }

    /// Flushes to disk.
    pub fn finish(mut self) -> Result<(), ResultsError> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{EndpointKind, FailureKey, FailureStat, VerifyCause};

    #[test]
    fn a_tick_without_a_seen_cause_writes_a_zero_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TimeseriesWriter::create(&dir.path().join("timeseries.csv")).unwrap();
        let mut tick = IntervalData::default();
        let key = FailureKey {
            cause: Cause::Verify(VerifyCause::UnknownIssuer),
            group: 0,
            endpoint: EndpointKind::Ats,
        };
        let stat = FailureStat {
            count: 3,
            first_seen_ms: 0,
            last_seen_ms: 0,
            sample: String::new(),
        };
        tick.failures.insert(key, stat);
        let mut snap = Snapshot {
            elapsed_s: 1.0,
            ..Snapshot::default()
        };
        w.write(&tick, &snap).unwrap();
        snap.elapsed_s = 2.0;
        w.write(&IntervalData::default(), &snap).unwrap();
        w.finish().unwrap();
        let rows = read_failures(&dir.path().join("failures.csv")).unwrap();
        let counts: Vec<(f64, u64)> = rows.iter().map(|r| (r.elapsed_s, r.count)).collect();
        assert_eq!(counts, [(1.0, 3), (2.0, 0)]);
    }

    #[test]
    fn rows_round_trip_by_header_name() {
        let row = TimeseriesRow {
            elapsed_s: 3.0,
            attempted: 10,
            succeeded: 7,
            failed_by_phase: [1, 0, 2, 0, 4, 0],
            connected: 5,
            in_flight: 1,
            latency: [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)],
            state: RunState::Draining,
        };
        let header = TimeseriesRow::header();
        let h: Vec<&str> = header.iter().map(String::as_str).collect();
        let back = TimeseriesRow::parse(&h, &row.values().join(",")).unwrap();
        assert_eq!(back, row);
        assert_eq!(back.failed(), 3, "hold failures are not attempt failures");
        // Columns in another order, one missing: still read by name.
        let h2 = ["connected", "elapsed_s", "failed_verify", "attempted"];
        let r = TimeseriesRow::parse(&h2, "4,1.5,2,9").unwrap();
        assert_eq!((r.connected, r.attempted, r.failed()), (4, 9, 2));
    }

    #[test]
    fn causes_with_commas_are_quoted_and_read_back() {
        use crate::metrics::TlsCause;
        let dir = tempfile::tempdir().unwrap();
        let mut w = TimeseriesWriter::create(&dir.path().join("timeseries.csv")).unwrap();
        let mut tick = IntervalData::default();
        let cause = Cause::Tls(TlsCause::RecordExceedsDeviceBuffer {
            message: 4792,
            buffer: 4096,
        });
        let key = FailureKey {
            cause: cause.clone(),
            group: 0,
            endpoint: EndpointKind::Ats,
        };
        tick.failures.insert(
            key,
            FailureStat {
                count: 2,
                first_seen_ms: 0,
                last_seen_ms: 0,
                sample: String::new(),
            },
        );
        w.write(&tick, &Snapshot::default()).unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join("failures.csv")).unwrap();
        assert!(text.contains("\"record_exceeds_device_buffer(certificate 4,792 B > 4,096 B)\""));
        let rows = read_failures(&dir.path().join("failures.csv")).unwrap();
        assert_eq!(rows[0].cause, cause);
        assert_eq!(split_csv("a,\"b,\"\"c\"\"\",d"), ["a", "b,\"c\"", "d"]);
    }
}
