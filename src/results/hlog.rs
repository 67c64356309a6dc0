//! `latency.hlog`: an HdrHistogram interval log in the standard form the
//! Java `HistogramLogWriter` writes and `HistogramLogProcessor` and Python's
//! `hdrh` read: a version line, `StartTime` and `BaseTime`, the column
//! legend, then one line per histogram with a compressed V2 payload
//! (cookie 0x1c849314, "HISTF…").
//!
//! Every tick writes one tagged line per series (`Tag=phase/group/endpoint
//! [/anchor]`) and one untagged line with `connect_total` over the whole
//! fleet, so a reader with no tag filter prints the headline percentiles.
//! Values are nanoseconds; the max column is in milliseconds (values
//! divided by 1e6), as the Java writer's default unit ratio prints it.
//!
//! [`read_log`] is the one reader, for `report` and `merge`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::{read_err, write_err, ResultsError};
use crate::metrics::{histogram, IntervalData, Phase, SeriesKey};

/// The divisor of the max column: nanoseconds to milliseconds.
pub const MAX_VALUE_DIVISOR: f64 = 1e6;

/// The legend line of the standard format.
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";

/// Appends intervals to `latency.hlog`, flushed every tick.
pub struct HlogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    ser: V2DeflateSerializer,
    groups: Vec<String>,
    payload: Vec<u8>,
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl HlogWriter {
    /// Creates the file and writes the header; `start` is the run's start,
    /// which interval timestamps are relative to.
    pub fn create(
        path: &Path,
        groups: Vec<String>,
        start: SystemTime,
    ) -> Result<HlogWriter, ResultsError> {
        let f = File::create(path).map_err(write_err(path))?;
        let mut w = HlogWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            ser: V2DeflateSerializer::new(),
            groups,
            payload: Vec::new(),
        };
        let secs = unix_secs(start);
        let human = time::OffsetDateTime::from(start)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let header = format!(
            "#[chainstorm latency log: values in nanoseconds, Interval_Max in milliseconds; \
             tagged lines are phase/group/endpoint[/anchor], untagged lines are connect_total over the fleet]\n\
             #[Histogram log format version 1.3]\n\
             #[StartTime: {secs:.3} (seconds since epoch), {human}]\n\
             #[BaseTime: {secs:.3} (seconds since epoch)]\n\
             {LEGEND}\n"
        );
        w.out
            .write_all(header.as_bytes())
            .and_then(|_| w.out.flush())
            .map_err(write_err(path))?;
        Ok(w)
    }

    /// Writes one tick's histograms; `offset` is the interval start since
    /// the run start. Flushes, so a killed run keeps every complete tick.
    pub fn write(
        &mut self,
        data: &IntervalData,
        offset: Duration,
        length: Duration,
    ) -> Result<(), ResultsError> {
        let mut keys: Vec<_> = data.series.keys().copied().collect();
        keys.sort();
        let mut fleet = histogram();
        for k in keys.iter().filter(|k| k.phase == Phase::ConnectTotal) {
            let _ = fleet.add(&data.series[k]);
        }
        // The untagged line first: readers without a tag filter see it.
        if !fleet.is_empty() {
            self.line(None, &fleet, offset, length)?;
        }
        for k in keys {
            let tag = k.tag(&self.groups);
            self.line(Some(&tag), &data.series[&k], offset, length)?;
        }
        self.out.flush().map_err(write_err(&self.path))
    }

    fn line(
        &mut self,
        tag: Option<&str>,
        h: &Histogram<u64>,
        offset: Duration,
        length: Duration,
    ) -> Result<(), ResultsError> {
        self.payload.clear();
        self.ser
            .serialize(h, &mut self.payload)
            .map_err(|e| ResultsError::Serialize {
                path: self.path.clone(),
                message: format!("{e:?}"),
            })?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.payload);
        let prefix = tag.map(|t| format!("Tag={t},")).unwrap_or_default();
        writeln!(
            self.out,
            "{prefix}{:.3},{:.3},{:.3},{b64}",
            offset.as_secs_f64(),
            length.as_secs_f64(),
            h.max() as f64 / MAX_VALUE_DIVISOR
        )
        .map_err(write_err(&self.path))
    }

    /// Flushes to disk.
    pub fn finish(mut self) -> Result<(), ResultsError> {
        self.out.flush().map_err(write_err(&self.path))
    }
}

/// One histogram line of a log.
pub struct LogInterval {
    /// The series, for tagged lines whose tag parses; `None` for the
    /// untagged fleet-wide line.
    pub key: Option<SeriesKey>,
    /// The raw tag (`None` for untagged lines).
    pub tag: Option<String>,
    /// Interval start, seconds since the log's base time.
    pub start_s: f64,
    /// The histogram.
    pub histogram: Histogram<u64>,
}

/// Reads every histogram line of a `latency.hlog`; `groups` maps the tags'
/// group names to indexes. Fails on an old layout (uncompressed payloads,
/// no version line) with a message that says so.
pub fn read_log(path: &Path, groups: &[String]) -> Result<Vec<LogInterval>, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let bad = |line: usize, what: &str| ResultsError::Malformed {
        path: path.to_path_buf(),
        line: Some(line),
        what: what.to_string(),
    };
    if !text.contains("#[Histogram log format version 1.3]") {
        return Err(ResultsError::Malformed {
            path: path.to_path_buf(),
            line: None,
            what: "not a standard HdrHistogram log (no version 1.3 line); \
                   results written before format_version 3 cannot be read, re-run the scenario"
                .into(),
        });
    }
    let mut de = Deserializer::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') || line.starts_with('"') {
            continue;
        }
        let (tag, rest) = match line.strip_prefix("Tag=") {
            Some(r) => {
                let (t, rest) = r
                    .split_once(',')
                    .ok_or_else(|| bad(i + 1, "tag without fields"))?;
                (Some(t.to_string()), rest)
            }
            None => (None, line),
        };
        let fields: Vec<&str> = rest.splitn(4, ',').collect();
        let [start, _len, _max, b64] = fields[..] else {
            return Err(bad(i + 1, "expected start,length,max,histogram"));
        };
        let start_s: f64 = start
            .parse()
            .map_err(|_| bad(i + 1, "bad start timestamp"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| bad(i + 1, &format!("bad base64: {e}")))?;
        let histogram: Histogram<u64> = de
            .deserialize(&mut &bytes[..])
            .map_err(|e| bad(i + 1, &format!("bad histogram: {e:?}")))?;
        let key = tag.as_deref().and_then(|t| SeriesKey::from_tag(t, groups));
        out.push(LogInterval {
            key,
            tag,
            start_s,
            histogram,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::EndpointKind;

    #[test]
    fn writes_the_standard_form_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latency.hlog");
        let groups = vec!["g".to_string()];
        let mut w = HlogWriter::create(&path, groups.clone(), SystemTime::now()).unwrap();
        let mut data = IntervalData::default();
        let key = SeriesKey {
            phase: Phase::ConnectTotal,
            group: 0,
            endpoint: EndpointKind::AtsRsa,
            anchor: None,
        };
        let mut h = histogram();
        for v in 1..=100u64 {
            h.record(v * 1_000_000).unwrap();
        }
        data.series.insert(key, h);
        w.write(&data, Duration::ZERO, Duration::from_secs(1))
            .unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "#[Histogram log format version 1.3]");
        assert_eq!(lines[4], LEGEND);
        assert!(lines[5].starts_with("0.000,1.000,100.") && lines[5].contains(",HISTF"));
        assert!(lines[6].starts_with("Tag=connect_total/g/ats-rsa,0.000,1.000,"));
        let back = read_log(&path, &groups).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back[0].key.is_none());
        assert_eq!(back[1].key, Some(key));
        assert_eq!(back[1].histogram.len(), 100);
    }
}
