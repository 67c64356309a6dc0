//! The `chainstorm` binary: parse, dispatch, map errors to exit codes
//! (0 ok, 1 a check failed, 2 usage or input error).
#![forbid(unsafe_code)]

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let usage_error = e.use_stderr();
            // --help and --version print to stdout and succeed.
            let _ = e.print();
            return if usage_error {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
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
