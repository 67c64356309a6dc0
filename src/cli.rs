//! Command-line definitions (clap derive). Parsing only; `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// TLS handshake load tester and fuzzer for IoT endpoints.
#[derive(Debug, Parser)]
#[command(name = "chainstorm", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write or describe the mock CA hierarchies.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// List the trust profiles and what each trusts or distrusts.
    Profiles(ProfilesArgs),
    /// Run a load scenario (the load engine is not built yet).
    Run(RunArgs),
}

/// `chainstorm pki ...`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Generate every mock hierarchy and write it as PEM files + manifest.json.
    Init(PkiInitArgs),
    /// Print role, subject, issuer, key, signature, validity and fingerprints.
    Show(PkiShowArgs),
}

/// Arguments of `pki init`.
#[derive(Debug, Args)]
pub struct PkiInitArgs {
    /// Directory to write (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite a directory that already holds a PKI.
    #[arg(long)]
    pub force: bool,
    /// notBefore of the legacy leaf, RFC 3339 (default: a week ago).
    #[arg(long, value_name = "RFC3339")]
    pub legacy_leaf_not_before: Option<String>,
    /// notAfter of the mock Symantec G4 intermediate, RFC 3339
    /// (real: 2023-10-30T23:59:59Z; default 2033-10-30T23:59:59Z so it validates).
    #[arg(long, value_name = "RFC3339")]
    pub legacy_intermediate_not_after: Option<String>,
    /// Region whose wildcard is the leaves' CN.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Also mint this many device certificates into DIR/devices and report the rate.
    #[arg(long, default_value_t = 0)]
    pub devices: u32,
}

/// Arguments of `pki show`.
#[derive(Debug, Args)]
pub struct PkiShowArgs {
    /// A directory written by `pki init`.
    pub dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `profiles`.
#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// PKI directory whose mock roots the profiles use (default: the cache).
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
}
