//! `chainstorm report RUN_DIR`.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::ReportArgs;

/// Writes the plots and report.html, prints the summary and what was written.
pub fn report(a: ReportArgs) -> Result<ExitCode> {
    let out = chainstorm::results::report::report(&a.run)?;
    outln!("{}", out.text);
    for s in &out.svgs {
        outln!("wrote {}", s.display());
    }
    outln!("wrote {}", out.html.display());
    Ok(ExitCode::SUCCESS)
}
