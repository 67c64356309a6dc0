//! `chainstorm merge DIR…`: combine shard results exactly. Histograms are
//! added (HDR histograms merge losslessly), counters summed, failures
//! merged, time series aligned by wall clock, and the thresholds evaluated
//! on the merged whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::engine::{build_snapshot, Labels};
use crate::metrics::{
    histogram, Aggregate, EndpointKind, FailPhase, FailureKey, FailureStat, IntervalData, Phase,
    SeriesKey,
};
use crate::results::{self, HlogWriter, Summary, SummaryInputs, TimeseriesWriter};

/// Anchor labels a tag can carry (the path kinds and `rejected`).
const ANCHORS: [&str; 6] = [
    "legacy-rsa",
    "ats-rsa",
    "ats-ecc",
    "cross-signed",
    "other",
    "rejected",
];

fn endpoint(s: &str) -> Option<EndpointKind> {
    [
        EndpointKind::Legacy,
        EndpointKind::AtsRsa,
        EndpointKind::AtsEcc,
        EndpointKind::Ats,
        EndpointKind::Custom,
    ]
    .into_iter()
    .find(|e| e.label() == s)
}

fn fail_phase(s: &str) -> Option<FailPhase> {
    [
        FailPhase::Dial,
        FailPhase::Tls,
        FailPhase::Verify,
        FailPhase::Mqtt,
        FailPhase::Hold,
    ]
    .into_iter()
    .find(|p| p.label() == s)
}

/// Parses `phase/group/endpoint[/anchor]`.
fn key_of(tag: &str, groups: &[String]) -> Option<SeriesKey> {
    let parts: Vec<&str> = tag.split('/').collect();
    if parts.len() < 3 {
        return None;
    }
    Some(SeriesKey {
        phase: Phase::from_label(parts[0])?,
        group: groups.iter().position(|g| g == parts[1])? as u16,
        endpoint: endpoint(parts[2])?,
        anchor: match parts.get(3) {
            Some(a) => Some(*ANCHORS.iter().find(|x| *x == a)?),
            None => None,
        },
    })
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        for i in 0..(chunk.len() * 6 / 8) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn started_unix(s: &Summary) -> Result<f64, String> {
    let t = time::OffsetDateTime::parse(
        &s.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| format!("started_at {:?}: {e}", s.started_at))?;
    Ok(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// What a merge produced.
pub struct Merged {
    /// Merged results directory.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
}

/// Merges shard run directories into a new run directory under `out_root`.
pub fn merge(dirs: &[PathBuf], out_root: &Path) -> Result<Merged, String> {
    if dirs.len() < 2 {
        return Err("merge needs at least two run directories".into());
    }
    let summaries = dirs
        .iter()
        .map(|d| Summary::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &summaries[0];
    for (d, s) in dirs.iter().zip(&summaries) {
        if s.scenario != first.scenario || s.seed != first.seed {
            return Err(format!(
                "{}: scenario {} seed {} differs from {} seed {}",
                d.display(),
                s.scenario,
                s.seed,
                first.scenario,
                first.seed
            ));
        }
    }
    let scenario_path = dirs[0].join("scenario.toml");
    let mut scenario = crate::scenario::load(&scenario_path).map_err(|e| e.to_string())?;
    scenario.path = scenario_path;
    let groups: Vec<String> = scenario.groups.iter().map(|g| g.name.clone()).collect();
    let starts = summaries
        .iter()
        .map(started_unix)
        .collect::<Result<Vec<_>, _>>()?;
    let t0 = starts.iter().cloned().fold(f64::INFINITY, f64::min);

    // Histograms: the whole run per key, and per wall-clock second per key.
    let mut agg = Aggregate::default();
    let mut buckets: BTreeMap<u64, IntervalData> = BTreeMap::new();
    let mut de = Deserializer::new();
    for (d, start) in dirs.iter().zip(&starts) {
        let log = std::fs::read(d.join("latency.hlog"))
            .map_err(|e| format!("{}: {e}", d.join("latency.hlog").display()))?;
        for e in IntervalLogIterator::new(&log) {
            let e = e.map_err(|e| format!("{}: {e:?}", d.display()))?;
            let LogEntry::Interval(ilh) = e else { continue };
            let Some(k) = ilh.tag().and_then(|t| key_of(t.as_str(), &groups)) else {
                continue;
            };
            let bytes =
                base64_decode(ilh.encoded_histogram()).ok_or("bad base64 in latency.hlog")?;
            let h: Histogram<u64> = de
                .deserialize(&mut &bytes[..])
                .map_err(|e| format!("{}: {e:?}", d.display()))?;
            let _ = agg.series.entry(k).or_insert_with(histogram).add(&h);
            let at = (start - t0 + ilh.start_timestamp().as_secs_f64()).max(0.0);
            let slot = buckets.entry(at.round() as u64).or_default();
            let _ = slot.series.entry(k).or_insert_with(histogram).add(&h);
        }
    }
    // Counters and failures from the summaries.
    for (s, start) in summaries.iter().zip(&starts) {
        let c = &mut agg.counts;
        c.attempted += s.totals.attempted;
        c.succeeded += s.totals.succeeded;
        c.aborted += s.totals.in_flight_at_stop;
        c.handshakes[0] += s.totals.handshakes_full;
        c.handshakes[1] += s.totals.handshakes_hrr;
        c.handshakes[2] += s.totals.handshakes_resumed;
        let shift = ((start - t0) * 1000.0) as u64;
        for f in &s.failures {
            let (Some(phase), Some(g)) = (
                fail_phase(f.phase.label()),
                groups.iter().position(|x| *x == f.group),
            ) else {
                continue;
            };
            c.failed_by_phase[phase as usize] += f.count;
            let key = FailureKey {
                phase,
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
    let c = &agg.counts;
    if c.attempted != c.succeeded + c.failed() + c.aborted {
        return Err(format!(
            "merged accounting does not add up: attempted {} != {} + {} + {}",
            c.attempted,
            c.succeeded,
            c.failed(),
            c.aborted
        ));
    }
    let dir = results::create_run_dir(out_root, &format!("{}-merged", first.scenario))
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("scenario.toml"), &scenario.source).map_err(|e| e.to_string())?;
    // Time series aligned by wall clock: counts per second from each shard's
    // timeseries, percentiles from the merged per-second histograms.
    let mut counts: BTreeMap<u64, (u64, u64, [u64; 5], i64)> = BTreeMap::new();
    for (d, start) in dirs.iter().zip(&starts) {
        let text = std::fs::read_to_string(d.join("timeseries.csv"))
            .map_err(|e| format!("{}: {e}", d.display()))?;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            let at = (start - t0 + num(0)).round() as u64;
            let e = counts.entry(at).or_default();
            e.0 += num(1) as u64;
            e.1 += num(2) as u64;
            // failed_dial, failed_tls, failed_verify, failed_mqtt, failed_hold
            for (i, slot) in e.2.iter_mut().enumerate() {
                *slot += num(4 + i) as u64;
            }
            e.3 += num(9) as i64;
        }
    }
    let start_time = UNIX_EPOCH + Duration::from_secs_f64(t0);
    let mut hlog = HlogWriter::create(&dir.join("latency.hlog"), groups.clone(), start_time)
        .map_err(|e| e.to_string())?;
    let mut ts =
        TimeseriesWriter::create(&dir.join("timeseries.csv")).map_err(|e| e.to_string())?;
    let labels = Labels {
        groups: groups.clone(),
        profiles: scenario.groups.iter().map(|g| g.profile.clone()).collect(),
    };
    let mut running = Aggregate::default();
    let seconds: Vec<u64> = counts
        .keys()
        .chain(buckets.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for sec in seconds {
        let mut interval = buckets.remove(&sec).unwrap_or_default();
        if let Some((a, s, f, conn)) = counts.get(&sec) {
            interval.counts.attempted = *a;
            interval.counts.succeeded = *s;
            interval.counts.failed_by_phase = *f;
            running.absorb(&interval);
            let mut snap = build_snapshot(&running, &interval, 1.0, &labels);
            snap.elapsed_s = sec as f64;
            snap.connected = *conn;
            hlog.write(
                &interval,
                Duration::from_secs(sec.saturating_sub(1)),
                Duration::from_secs(1),
            )
            .map_err(|e| e.to_string())?;
            ts.write(&interval, &snap).map_err(|e| e.to_string())?;
        }
    }
    hlog.finish().map_err(|e| e.to_string())?;
    ts.finish().map_err(|e| e.to_string())?;
    let snapshot = build_snapshot(&agg, &IntervalData::default(), 1.0, &labels);
    let end = summaries
        .iter()
        .zip(&starts)
        .map(|(s, st)| st + s.wall_s)
        .fold(t0, f64::max);
    let mut summary = Summary::build(SummaryInputs {
        scenario: &scenario,
        aggregate: &agg,
        snapshot: &snapshot,
        target: first.target.clone(),
        remote: summaries.iter().any(|s| s.remote),
        planned_devices: summaries.iter().map(|s| s.planned_devices).sum(),
        machine: first.machine.clone(),
        started_at: time::OffsetDateTime::from(start_time),
        wall_s: end - t0,
        interrupted: summaries.iter().any(|s| s.interrupted),
    });
    summary.shard = Some(format!("merged {}", dirs.len()));
    let json = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("summary.json"), json).map_err(|e| e.to_string())?;
    Ok(Merged { dir, summary })
}
