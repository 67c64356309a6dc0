//! `wire.csv`: one row per group × endpoint × chain served, the same
//! figures as summary.json's `wire` (for spreadsheets: a fleet's daily data
//! cost is connects × bytes per connect).

use std::fmt::Write;
use std::path::Path;

use super::summary::WireStats;
use super::timeseries::csv_field as field;
use super::{write_err, ResultsError};
use crate::metrics::Figure;

/// Writes `wire.csv` into `dir` (nothing when no connect succeeded).
pub fn write(dir: &Path, wire: &[WireStats]) -> Result<(), ResultsError> {
    if wire.is_empty() {
        return Ok(());
    }
    let mut o = String::from("group,link,endpoint,certs,connects,retransmitted_share");
    for f in Figure::ALL {
        let _ = write!(o, ",{0}_p50,{0}_p99,{0}_mean", f.label());
    }
    o.push('\n');
    for w in wire {
        let _ = write!(
            o,
            "{},{},{},{},{},{:.4}",
            field(&w.group),
            field(&w.link),
            w.endpoint,
            w.certs,
            w.connects,
            w.retransmitted
        );
        for f in Figure::ALL {
            let s = w.figure(f);
            let _ = write!(o, ",{},{},{:.1}", s.p50, s.p99, s.mean);
        }
        o.push('\n');
    }
    let path = dir.join("wire.csv");
    std::fs::write(&path, o).map_err(write_err(&path))
}
