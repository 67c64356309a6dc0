//! The HdrHistogram interval log: one histogram per series per tick, tagged
//! `phase/group/endpoint[/anchor]`, readable by standard HdrHistogram tools.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2Serializer;

use super::{write_err, ResultsError};
use crate::metrics::IntervalData;

/// Appends intervals to `latency.hlog`.
pub struct HlogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    ser: V2Serializer,
    groups: Vec<String>,
}

impl HlogWriter {
    /// Creates the file and writes the header.
    pub fn create(
        path: &Path,
        groups: Vec<String>,
        start: SystemTime,
    ) -> Result<HlogWriter, ResultsError> {
        let f = File::create(path).map_err(write_err(path))?;
        let mut w = HlogWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            ser: V2Serializer::new(),
            groups,
        };
        let mut buf = Vec::new();
        IntervalLogWriterBuilder::new()
            .add_comment("chainstorm latency log: values in nanoseconds; tag = phase/group/endpoint[/anchor]")
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut buf, &mut w.ser)
            .map_err(write_err(path))?;
        w.out.write_all(&buf).map_err(write_err(path))?;
        Ok(w)
    }

    /// Writes one tick's histograms; `offset` is the interval start since the run start.
    pub fn write(
        &mut self,
        data: &IntervalData,
        offset: Duration,
        length: Duration,
    ) -> Result<(), ResultsError> {
        let mut keys: Vec<_> = data.series.keys().copied().collect();
        keys.sort();
        let mut buf = Vec::new();
        {
            let mut w = IntervalLogWriterBuilder::new()
                .begin_log_with(&mut buf, &mut self.ser)
                .map_err(write_err(&self.path))?;
            for k in keys {
                let h = &data.series[&k];
                let tag_text = k.tag(&self.groups);
                let tag = Tag::new(&tag_text);
                w.write_histogram(h, offset, length, tag)
                    .map_err(|e| ResultsError::Serialize {
                        path: self.path.clone(),
                        message: format!("{e:?}"),
                    })?;
            }
        }
        self.out.write_all(&buf).map_err(write_err(&self.path))
    }

    /// Flushes to disk.
    pub fn finish(mut self) -> Result<(), ResultsError> {
        self.out.flush().map_err(write_err(&self.path))
    }
}
