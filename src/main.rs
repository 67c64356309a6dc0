//! The `chainstorm` binary: parse, dispatch, map errors to exit codes
//! (0 ok, 1 a check failed, 2 usage or input error).
#![forbid(unsafe_code)]

mod cli;
#[macro_use]
mod commands;
mod fuzz_cmd;
mod probe_cmd;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print to stdout and succeed.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // A usage error is one line: clap's first line names the problem.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("usage error");
            eprintln!(
                "chainstorm: {} (see --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let result = commands::dispatch(cli.command);
    commands::flush_stdout();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chainstorm: {e:#}");
            ExitCode::from(2)
        }
    }
}
