//! `chainstorm merge DIR…`: combine shard results exactly. Histograms are
//! added (HDR histograms merge losslessly), counters summed, failures
//! merged, time series aligned by wall clock, and the thresholds evaluated
//! on the merged whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::hlog::read_log;
use super::timeseries::{read_timeseries, TimeseriesRow};
use super::{
    write_err, HlogWriter, ResultsError, RunPart, Summary, SummaryInputs, TimeseriesWriter,
};
use crate::metrics::{
    build_snapshot, histogram, Aggregate, FailureKey, FailureStat, IntervalData, Labels,
};
use crate::scenario::Shard;

fn started_unix(dir: &Path, s: &Summary) -> Result<f64, ResultsError> {
    let t = time::OffsetDateTime::parse(
        &s.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| ResultsError::Malformed {
        path: dir.join("summary.json"),
        line: None,
        what: format!("started_at {:?}: {e}", s.started_at),
    })?;
    Ok(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// What a merge produced.
pub struct Merged {
    /// Merged results directory.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
}

/// The shard directories named by `inputs`: a run directory as it is, and
/// a directory without a `summary.json` (a per-run directory,
/// `<output>/<run id>/`) as every shard run inside it (a merged run there
/// is not a shard and is left out).
pub fn shard_dirs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ResultsError> {
    let mut out = Vec::new();
    for d in inputs {
        if d.join("summary.json").exists() {
            out.push(d.clone());
            continue;
        }
        let entries = std::fs::read_dir(d).map_err(super::read_err(d))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                Summary::read(p)
                    .ok()
                    .is_some_and(|s| matches!(s.shard, Some(RunPart::Shard(_))))
            })
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(ResultsError::NotRunDir {
                path: d.clone(),
                needs: "neither a run directory nor a directory of shard runs",
            });
        }
        out.extend(found);
    }
    Ok(out)
}

/// Exactly shards 0..N-1 of one run, each once: a missing, duplicate or
/// foreign shard (another run id, another N, not a shard) is refused with
/// every problem named.
fn check_shards(dirs: &[PathBuf], summaries: &[Summary]) -> Result<(), ResultsError> {
    let mut problems = Vec::new();
    let first = &summaries[0];
    let mut n_seen = None;
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (d, s) in dirs.iter().zip(summaries) {
        if s.run_id != first.run_id {
            problems.push(format!(
                "{}: run id {:?}, not {:?} (foreign shard)",
                d.display(),
                s.run_id,
                first.run_id
            ));
            continue;
        }
        let Some(RunPart::Shard(Shard { index: i, count: n })) = s.shard else {
            let part = s.shard.map_or("none".to_string(), |p| p.to_string());
            problems.push(format!("{}: not a shard run (shard {part})", d.display()));
            continue;
        };
        match n_seen {
            None => n_seen = Some(n),
            Some(m) if m != n => {
                problems.push(format!(
                    "{}: shard {i}/{n}, but the others are of {m}",
                    d.display()
                ));
                continue;
            }
            Some(_) => {}
        }
        if let Some(other) = seen.insert(i, d) {
            problems.push(format!(
                "shard {i} twice: {} and {}",
                other.display(),
                d.display()
            ));
        }
    }
    if let Some(n) = n_seen {
        let missing: Vec<String> = (0..n)
            .filter(|i| !seen.contains_key(i))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            problems.push(format!("missing shard(s) {} of {n}", missing.join(", ")));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ResultsError::MergeRefused { problems })
    }
}

/// Merges shard run directories into a new run directory under `out_root`.
pub fn merge(dirs: &[PathBuf], out_root: &Path) -> Result<Merged, ResultsError> {
    let shards = Shards::read(dirs)?;
    let (agg, buckets) = shards.histograms()?;
    let mut agg = agg;
    shards.add_counts_and_failures(&mut agg);
    if let Some(e) = agg.counts.accounting_error() {
        return Err(ResultsError::MergeRefused {
            problems: vec![format!("merged accounting does not add up: {e}")],
        });
    }
    let first = &shards.summaries[0];
    let dir = super::create_run_dir(out_root, &format!("{}-merged", first.scenario))?;
    let scenario_copy = dir.join("scenario.toml");
    std::fs::write(&scenario_copy, &shards.scenario.source).map_err(write_err(&scenario_copy))?;
    shards.write_intervals(&dir, buckets)?;
    let summary = shards.summary(&agg);
    summary.write(&dir)?;
    Ok(Merged { dir, summary })
}

/// The shard runs of one plan, checked, with their scenario and start times.
struct Shards<'a> {
    dirs: &'a [PathBuf],
    summaries: Vec<Summary>,
    scenario: crate::scenario::Scenario,
    groups: Vec<String>,
    /// Each shard's start, unix seconds.
    starts: Vec<f64>,
    /// The earliest start: the merged run's clock.
    t0: f64,
}

impl<'a> Shards<'a> {
    /// Reads every summary; refuses anything but shards 0..N-1 of one run
    /// of one scenario and seed.
    fn read(dirs: &'a [PathBuf]) -> Result<Shards<'a>, ResultsError> {
        if dirs.is_empty() {
            return Err(ResultsError::MergeRefused {
                problems: vec!["no shard run directories given".into()],
            });
        }
        let summaries = dirs
            .iter()
            .map(|d| Summary::read(d))
            .collect::<Result<Vec<_>, _>>()?;
        check_shards(dirs, &summaries)?;
        let first = &summaries[0];
        for (d, s) in dirs.iter().zip(&summaries) {
            if s.scenario != first.scenario || s.seed != first.seed {
                return Err(ResultsError::MergeRefused {
                    problems: vec![format!(
                        "{}: scenario {} seed {} differs from {} seed {}",
                        d.display(),
                        s.scenario,
                        s.seed,
                        first.scenario,
                        first.seed
                    )],
                });
            }
        }
        let scenario_path = dirs[0].join("scenario.toml");
        let mut scenario = crate::scenario::load(&scenario_path).map_err(Box::new)?;
        scenario.path = scenario_path;
        let starts = dirs
            .iter()
            .zip(&summaries)
            .map(|(d, s)| started_unix(d, s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Shards {
            dirs,
            groups: scenario.group_names(),
            t0: starts.iter().cloned().fold(f64::INFINITY, f64::min),
            summaries,
            scenario,
            starts,
        })
    }

    /// Every series' histogram over the whole run, and per wall-clock
    /// second of the merged clock.
    fn histograms(&self) -> Result<(Aggregate, BTreeMap<u64, IntervalData>), ResultsError> {
        let mut agg = Aggregate::default();
        let mut buckets: BTreeMap<u64, IntervalData> = BTreeMap::new();
        for (d, start) in self.dirs.iter().zip(&self.starts) {
            for e in read_log(&d.join("latency.hlog"), &self.groups)? {
                // The untagged fleet-wide lines are rebuilt from the series.
                let Some(k) = e.key else { continue };
                let _ = agg
                    .series
                    .entry(k)
                    .or_insert_with(histogram)
                    .add(&e.histogram);
                let at = (start - self.t0 + e.start_s).max(0.0);
                let slot = buckets.entry(at.round() as u64).or_default();
                let _ = slot
                    .series
                    .entry(k)
                    .or_insert_with(histogram)
                    .add(&e.histogram);
            }
        }
        Ok((agg, buckets))
    }

    /// Attempt counters and failures from the summaries, failure times
    /// shifted onto the merged clock.
    fn add_counts_and_failures(&self, agg: &mut Aggregate) {
        for (s, start) in self.summaries.iter().zip(&self.starts) {
            let c = &mut agg.counts;
            c.attempted += s.totals.attempted;
            c.succeeded += s.totals.succeeded;
            c.aborted += s.totals.in_flight_at_stop;
            c.handshakes[0] += s.totals.handshakes_full;
            c.handshakes[1] += s.totals.handshakes_hrr;
            c.handshakes[2] += s.totals.handshakes_resumed;
            let shift = ((start - self.t0) * 1000.0) as u64;
            for f in &s.failures {
                let Some(g) = self.groups.iter().position(|x| *x == f.group) else {
                    continue;
                };
                c.failed_by_phase[f.phase() as usize] += f.count;
                let key = FailureKey {
                    cause: f.cause.clone(),
                    group: g as u16,
                    endpoint: f.endpoint,
                };
                let stat = FailureStat {
                    count: f.count,
                    first_seen_ms: f.first_seen_ms + shift,
                    last_seen_ms: f.last_seen_ms + shift,
                    sample: f.sample.clone(),
                };
                match agg.failures.get_mut(&key) {
                    Some(m) => m.merge(&stat),
                    None => {
                        agg.failures.insert(key, stat);
                    }
                }
            }
        }
    }

    fn start_time(&self) -> std::time::SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(self.t0)
    }

    fn labels(&self) -> Labels {
        self.scenario.labels()
    }

    /// The merged `latency.hlog` and `timeseries.csv`, aligned by wall
    /// clock: counts per second from each shard's timeseries, percentiles
    /// from the merged per-second histograms.
    fn write_intervals(
        &self,
        dir: &Path,
        mut buckets: BTreeMap<u64, IntervalData>,
    ) -> Result<(), ResultsError> {
        let mut counts: BTreeMap<u64, TimeseriesRow> = BTreeMap::new();
        for (d, start) in self.dirs.iter().zip(&self.starts) {
            for row in read_timeseries(&d.join("timeseries.csv"))? {
                let at = (start - self.t0 + row.elapsed_s).round() as u64;
                let e = counts.entry(at).or_default();
                e.attempted += row.attempted;
                e.succeeded += row.succeeded;
                for (slot, n) in e.failed_by_phase.iter_mut().zip(row.failed_by_phase) {
                    *slot += n;
                }
                e.connected += row.connected;
            }
        }
        let mut hlog = HlogWriter::create(
            &dir.join("latency.hlog"),
            self.groups.clone(),
            self.start_time(),
        )?;
        let mut ts = TimeseriesWriter::create(&dir.join("timeseries.csv"))?;
        let labels = self.labels();
        let mut running = Aggregate::default();
        let seconds: std::collections::BTreeSet<u64> =
            counts.keys().chain(buckets.keys()).copied().collect();
        for sec in seconds {
            let mut interval = buckets.remove(&sec).unwrap_or_default();
            let Some(row) = counts.get(&sec) else {
                continue;
            };
            interval.counts.attempted = row.attempted;
            interval.counts.succeeded = row.succeeded;
            interval.counts.failed_by_phase = row.failed_by_phase;
            running.absorb(&interval);
            let mut snap = build_snapshot(&running, &interval, 1.0, &labels);
            snap.elapsed_s = sec as f64;
            snap.connected = row.connected;
            hlog.write(
                &interval,
                Duration::from_secs(sec.saturating_sub(1)),
                Duration::from_secs(1),
            )?;
            ts.write(&interval, &snap)?;
        }
        hlog.finish()?;
        ts.finish()
    }

    /// The merged summary: thresholds evaluated on the whole.
    fn summary(&self, agg: &Aggregate) -> Summary {
        let first = &self.summaries[0];
        let snapshot = build_snapshot(agg, &IntervalData::default(), 1.0, &self.labels());
        let end = self
            .summaries
            .iter()
            .zip(&self.starts)
            .map(|(s, st)| st + s.wall_s)
            .fold(self.t0, f64::max);
        let mut summary = Summary::build(SummaryInputs {
            scenario: &self.scenario,
            aggregate: agg,
            snapshot: &snapshot,
            target: first.target.clone(),
            remote: self.summaries.iter().any(|s| s.remote),
            planned_devices: self.summaries.iter().map(|s| s.planned_devices).sum(),
            machine: first.machine.clone(),
            started_at: time::OffsetDateTime::from(self.start_time()),
            wall_s: end - self.t0,
            interrupted: self.summaries.iter().any(|s| s.interrupted),
        });
        summary.shard = Some(RunPart::Merged(self.dirs.len() as u32));
        summary.run_id = first.run_id.clone();
        summary
    }
}
