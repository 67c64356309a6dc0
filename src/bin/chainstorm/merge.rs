//! `chainstorm merge DIR...`.

use std::process::ExitCode;

use anyhow::Result;

use chainstorm::results::Verdict;

use crate::args::MergeArgs;

/// Merges shard results; exit 1 when the merged thresholds fail.
pub fn merge(a: MergeArgs) -> Result<ExitCode> {
    let dirs = chainstorm::results::merge::shard_dirs(&a.runs)?;
    // Large runs take a while to merge: say what is going on.
    eprintln!("merging {} shard run(s)", dirs.len());
    let m = chainstorm::results::merge::merge(&dirs, &a.output)?;
    let text = if a.json {
        serde_json::to_string_pretty(&m.summary)?
    } else {
        format!(
            "{}\nresults: {}\n",
            chainstorm::results::human_summary(&m.summary),
            m.dir.display()
        )
    };
    outln!("{text}");
    Ok(if m.summary.verdict == Verdict::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
