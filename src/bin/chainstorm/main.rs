//! The `chainstorm` binary: the command-line front. It parses (clap, in
//! `args`), wires library calls together and prints, one file per verb;
//! the logic lives in the library. Exit codes: 0 ok, 1 a check failed,
//! 2 usage or input error, 128 + N after signal N.
#![forbid(unsafe_code)]

#[macro_use]
mod output;
mod args;
mod compare;
mod fuzz;
mod merge;
mod pki;
mod probe;
mod profiles;
mod report;
mod run;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use args::{Command, PkiCommand};

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print to stdout and succeed.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // A usage error is one line: clap's first line names the
            // problem; its "tip" (did you mean ...) rides along.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("usage error");
            let tip = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("tip:"))
                .map(|t| format!("; {}", t.trim_start_matches("tip: ")))
                .unwrap_or_default();
            eprintln!(
                "chainstorm: {}{tip} (see --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let result = dispatch(cli.command);
    output::flush_stdout();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chainstorm: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a verb. Library errors become `anyhow` in the verbs and only there.
fn dispatch(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Pki(PkiCommand::Init(a)) => pki::init(a),
        Command::Pki(PkiCommand::Show(a)) => pki::show(a),
        Command::Profiles(a) => profiles::profiles(a),
        Command::Run(a) => run::run(a),
        Command::Serve(a) => serve::serve(a),
        Command::Compare(a) => compare::compare(a),
        Command::Report(a) => report::report(a),
        Command::Probe(a) => probe::probe(a),
        Command::Merge(a) => merge::merge(a),
        Command::Fuzz(a) => fuzz::fuzz(a),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(
                shell,
                &mut <args::Cli as clap::CommandFactory>::command(),
                "chainstorm",
                &mut buf,
            );
            outln!("{}", String::from_utf8_lossy(&buf));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(<args::Cli as clap::CommandFactory>::command())
                .render(&mut buf)?;
            outln!("{}", String::from_utf8_lossy(&buf));
            Ok(ExitCode::SUCCESS)
        }
    }
}
