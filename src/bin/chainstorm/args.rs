//! Command-line definitions (clap derive). Parsing only; `main.rs` dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A number of seconds: finite, 0 < s <= 604800 (a week). Negative values
/// reach this parser (flags allow them) so the message is about the value.
fn seconds(v: &str) -> Result<f64, String> {
    bounded(v, 0.0, false, 604_800.0, "seconds")
}

/// A number of seconds that may be 0 (off): 0 <= s <= 3600.
fn seconds_or_zero(v: &str) -> Result<f64, String> {
    bounded(v, 0.0, true, 3_600.0, "seconds")
}

/// A rate per second: 0 < r <= 1000000.
fn rate(v: &str) -> Result<f64, String> {
    bounded(v, 0.0, false, 1e6, "per second")
}

fn bounded(v: &str, lo: f64, lo_ok: bool, hi: f64, unit: &str) -> Result<f64, String> {
    let x: f64 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
    let above = if lo_ok { x >= lo } else { x > lo };
    if x.is_finite() && above && x <= hi {
        Ok(x)
    } else {
        let op = if lo_ok { "<=" } else { "<" };
        Err(format!(
            "{v} is out of range; allowed {lo} {op} value <= {hi} ({unit})"
        ))
    }
}

/// TLS handshake load tester and fuzzer for IoT endpoints.
#[derive(Debug, Parser)]
#[command(name = "chainstorm", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
// Parsed once per process: the size difference between variants is irrelevant.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write or describe the mock CA hierarchies.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// List the trust profiles and what each trusts or distrusts.
    #[command(after_help = EXIT_PLAIN)]
    Profiles(ProfilesArgs),
    /// Run a load scenario: a fleet against an endpoint, results under results/.
    #[command(after_help = EXIT_RUN)]
    Run(RunArgs),
    /// Run the mock IoT endpoint (TLS + MQTT, SNI-routed chains, faults).
    #[command(after_help = EXIT_SERVE)]
    Serve(ServeArgs),
    /// Compare base run(s) with a new run; exit 1 on a regression (CI gate).
    #[command(after_help = EXIT_COMPARE)]
    Compare(CompareArgs),
    /// Text summary, SVG plots and a self-contained report.html for a run.
    #[command(after_help = EXIT_PLAIN)]
    Report(ReportArgs),
    /// One handshake per trust profile against an endpoint: who would connect, and why not.
    #[command(after_help = EXIT_PROBE)]
    Probe(ProbeArgs),
    /// Combine shard results exactly (histograms added, thresholds on the whole).
    #[command(after_help = EXIT_MERGE)]
    Merge(MergeArgs),
    /// Fuzz a TLS endpoint's handshake with mutated ClientHellos (or replay a finding).
    #[command(after_help = EXIT_FUZZ)]
    Fuzz(FuzzArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = EXIT_PLAIN)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `chainstorm man > chainstorm.1`.
    #[command(after_help = EXIT_PLAIN)]
    Man,
}

const EXIT_PLAIN: &str = "Exit codes: 0 done, 2 usage or input error.";
const EXIT_RUN: &str = "Exit codes: 0 thresholds held (a shard always 0), 1 a threshold failed, \
2 usage, input or capacity error, 130 / 143 after Ctrl-C / SIGTERM (results are still written; \
a second signal exits at once). q or Esc in the TUI stops gracefully with 0.";
const EXIT_SERVE: &str =
    "Exit codes: 0 stopped (signal or --duration-s), 2 usage error or a port in use.";
const EXIT_COMPARE: &str = "Exit codes: 0 no rule broken, 1 a rule broken (the default gate when none is given), 2 usage error.";
const EXIT_PROBE: &str =
    "Exit codes: 0 done, 1 a --require profile failed, 2 usage or input error.";
const EXIT_MERGE: &str = "Exit codes: 0 thresholds held on the whole, 1 a threshold failed, \
2 missing, duplicate or foreign shards, or another input error.";
const EXIT_FUZZ: &str =
    "Exit codes: 0 done, 1 the target went down or the class distribution left the baseline, \
2 usage error, 130 / 143 after Ctrl-C / SIGTERM (the report is still written).";

/// `chainstorm pki ...`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Generate every mock hierarchy and write it as PEM files + manifest.json.
    #[command(after_help = EXIT_PLAIN)]
    Init(PkiInitArgs),
    /// Print role, subject, issuer, key, signature, validity and fingerprints.
    #[command(after_help = EXIT_PLAIN)]
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
    /// notAfter of Starfield Services Root G2 cross-signed by the Starfield
    /// Class 2 root, RFC 3339 (real and default: 2034-06-28T17:39:16Z).
    #[arg(long, value_name = "RFC3339")]
    pub starfield_g2_cross_not_after: Option<String>,
    /// Region whose wildcard is the leaves' CN.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Also mint this many device certificates into DIR/devices and report the rate (at most 1000000).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000), allow_negative_numbers = true)]
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
    /// Allow targets outside 127.0.0.0/8 and ::1 (then --max-rate is mandatory).
    #[arg(long)]
    pub allow_remote: bool,
    /// Ceiling on the scenario's arrival rate, per second (required for remote targets).
    #[arg(long, value_parser = rate, allow_negative_numbers = true)]
    pub max_rate: Option<f64>,
    /// Run the I-th of N slices of the plan: I/N, I from 0.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Serve live Prometheus metrics at http://ADDR/metrics while running
    /// (each shard its own; Prometheus sums them).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The id shared by every shard of one distributed run (e.g. the
    /// Kubernetes Job's uid): results go to OUTPUT/RUN_ID/, and `merge`
    /// refuses shards of another id. Default: $CHAINSTORM_RUN_ID.
    #[arg(long, env = "CHAINSTORM_RUN_ID")]
    pub run_id: Option<String>,
    /// Results root (default: the scenario's run.output_dir).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Print the summary as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Headless progress lines even on a terminal.
    #[arg(long)]
    pub no_tui: bool,
    /// Override the scenario's duration, seconds (0 < s <= 604800).
    #[arg(long, value_parser = seconds, allow_negative_numbers = true)]
    pub duration_s: Option<f64>,
    /// Cap every fleet group at this many devices (1 to 10000000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000), allow_negative_numbers = true)]
    pub devices: Option<u64>,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// PKI directory (default: the cache, generated if missing).
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// MQTT-over-TLS listener, port 8883 semantics (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<std::net::SocketAddr>,
    /// Listener with port 443 semantics: ALPN x-amzn-mqtt-ca required (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen_alpn: Vec<std::net::SocketAddr>,
    /// Handshake-then-close listener for pure handshake load (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub listen_tls_only: Vec<std::net::SocketAddr>,
    /// Account prefix of the endpoint names (default: any prefix).
    #[arg(long)]
    pub account_prefix: Option<String>,
    /// Accept ClientHellos without SNI (AWS requires SNI).
    #[arg(long)]
    pub allow_no_sni: bool,
    /// Client certificates: off, optional or required.
    #[arg(long, default_value = "off", value_parser = ["off", "optional", "required"])]
    pub mtls: String,
    /// AWS IoT security policy by name; `list` prints every policy's
    /// versions and suites (which rustls serves, which it cannot) and exits.
    #[arg(long, default_value = "IoTSecurityPolicy_TLS13_1_2_2022_10")]
    pub security_policy: String,
    /// With mutual TLS: refuse a CONNECT whose client id is not the certificate's CN.
    #[arg(long)]
    pub client_id_must_match_cn: bool,
    /// Serve the ATS ECC chain whenever the client offers ECDSA (default: RSA unless it cannot).
    #[arg(long)]
    pub prefer_ecc: bool,
    /// Enable session resumption (tickets and cache); AWS sends no tickets.
    #[arg(long)]
    pub resumption: bool,
    /// Seed of the per-connection fault decisions.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fixed delay before answering the ClientHello, ms.
    #[arg(long)]
    pub handshake_delay_ms: Option<f64>,
    /// Fixed delay before the CONNACK, ms.
    #[arg(long)]
    pub connack_delay_ms: Option<f64>,
    /// Fraction of connections closed right after accept.
    #[arg(long, default_value_t = 0.0)]
    pub refuse_rate: f64,
    /// Fraction of connections reset after the ClientHello.
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Fraction of connections accepted and never answered.
    #[arg(long, default_value_t = 0.0)]
    pub stall_rate: f64,
    /// Fraction of CONNECTs refused.
    #[arg(long, default_value_t = 0.0)]
    pub connack_refusal_rate: f64,
    /// 3.1.1 code of refused CONNECTs.
    #[arg(long, default_value_t = 3)]
    pub connack_refusal_code_v311: u8,
    /// 5.0 code of refused CONNECTs (e.g. 0x88 = 136 server unavailable, 0x9F = 159 rate exceeded).
    #[arg(long, default_value_t = 0x88)]
    pub connack_refusal_code_v5: u8,
    /// Account CONNECT rate limit per second (AWS: 500).
    #[arg(long)]
    pub account_connect_rate: Option<f64>,
    /// Per-client-id CONNECT rate limit per second (AWS: 1).
    #[arg(long)]
    pub client_connect_rate: Option<f64>,
    /// Serve a broken chain on ATS names: expired, not-yet-valid, wrong-name, unknown-ca, missing-intermediate.
    #[arg(long)]
    pub broken_chain: Option<String>,
    /// Outage: close the listeners this many seconds after start ...
    #[arg(long, requires = "outage_duration_s", value_parser = seconds, allow_negative_numbers = true)]
    pub outage_after_s: Option<f64>,
    /// ... for this many seconds.
    #[arg(long, requires = "outage_after_s", value_parser = seconds, allow_negative_numbers = true)]
    pub outage_duration_s: Option<f64>,
    /// Serve the endpoint's counters for Prometheus at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Share the port with other `serve` processes (SO_REUSEPORT), as the
    /// sharding scripts do. Without it a port already in use is an error.
    #[arg(long)]
    pub reuse_port: bool,
    /// Relative weights of the intermediates M01,M02,M03,M04 that issue the
    /// ATS leaf, chosen per connection (default 1,0,0,0: M01 only).
    #[arg(long, value_name = "W1,W2,W3,W4", value_delimiter = ',', num_args = 4)]
    pub rotation_weights: Option<Vec<f64>>,
    /// After this many seconds serve only `--rotate-to` (a scheduled rotation).
    #[arg(long, value_name = "S")]
    pub rotate_after_s: Option<f64>,
    /// The intermediate (1-4) served after `--rotate-after-s`.
    #[arg(long, default_value_t = 2)]
    pub rotate_to: u8,
    /// Serve the ATS RSA chain without the Starfield cross-certificate.
    #[arg(long)]
    pub no_starfield_cross: bool,
    /// Share of M01 connections served with the Starfield cross-certificate
    /// (0 to 1; the rest get M01 alone), to compare both chains in one run.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub starfield_cross_share: f64,
    /// Append Starfield G2 cross-signed by the Starfield Class 2 root.
    #[arg(long)]
    pub class2_cross: bool,
    /// On the ALPN (port 443) listener, close a client that did not offer
    /// x-amzn-mqtt-ca right after the handshake (default: answer nothing,
    /// as AWS IoT does, so it times out waiting for CONNACK).
    #[arg(long)]
    pub no_alpn_close: bool,
    /// Seconds between progress lines (0 < s <= 604800).
    #[arg(long, default_value_t = 1.0, value_parser = seconds, allow_negative_numbers = true)]
    pub interval_s: f64,
    /// Stop by itself after this many seconds (0 < s <= 604800).
    #[arg(long, value_parser = seconds, allow_negative_numbers = true)]
    pub duration_s: Option<f64>,
    /// Seconds a client may take from the accept to the end of its TLS
    /// handshake (0 < s <= 604800): raise it for devices on slow emulated
    /// links, whose emulated TCP connect falls inside this wait.
    #[arg(long, default_value_t = 10.0, value_parser = seconds, allow_negative_numbers = true)]
    pub handshake_timeout_s: f64,
}

/// Arguments of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Base run directories or summary.json files, then the new one (last).
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// PHASE.STAT=PCT, e.g. connect_total.p99=10% (repeatable).
    #[arg(long, value_name = "RULE")]
    pub max_regression: Vec<String>,
    /// Largest failure rate allowed in the new run, e.g. 0.5%.
    #[arg(long)]
    pub max_failure_rate: Option<String>,
    /// Rules from a TOML file (`[max_regression]`, `max_failure_rate`, `noise_aware`).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// A regression must also exceed the spread of the base runs (needs 2+ bases).
    #[arg(long)]
    pub noise_aware: bool,
    /// Output: text, md or junit.
    #[arg(long, default_value = "text", value_parser = ["text", "md", "junit"])]
    pub format: String,
    /// Show every series, not only those a rule applies to.
    #[arg(long)]
    pub all: bool,
    /// Also write FILE.html: the bases' and the new run's percentile curves
    /// overlaid (the runs must be run directories).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory (results/<name>-<timestamp>).
    pub run: PathBuf,
}

/// Arguments of `probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// HOST:PORT (IP address).
    pub addr: std::net::SocketAddr,
    /// Server name to send (without --fleet).
    #[arg(long)]
    pub sni: Option<String>,
    /// Weigh verdicts by a scenario's fleet, for a legacy and an ATS name side by side.
    #[arg(long)]
    pub fleet: Option<PathBuf>,
    /// Account prefix for the derived legacy / ATS names (with --fleet).
    #[arg(long, default_value = "a1b2c3d4e5f6g7")]
    pub prefix: String,
    /// Region for the derived names (with --fleet).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Profiles to probe, comma-separated (default: every built-in one).
    #[arg(long, value_delimiter = ',')]
    pub profiles: Vec<String>,
    /// PKI directory (mock roots; device CA for --mint-client-cert).
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Follow the handshake with an MQTT CONNECT: 311 or 5.
    #[arg(long, value_parser = ["311", "5"])]
    pub mqtt: Option<String>,
    /// MQTT client id (and CN of a minted certificate).
    #[arg(long, default_value = "chainstorm-probe")]
    pub client_id: String,
    /// Present a client certificate minted from the PKI's device CA.
    #[arg(long)]
    pub mint_client_cert: bool,
    /// ALPN to offer (e.g. x-amzn-mqtt-ca for port 443).
    #[arg(long)]
    pub alpn: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when any of these profiles fails (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub require: Vec<String>,
    /// Allow an address outside 127.0.0.0/8 and ::1.
    #[arg(long)]
    pub allow_remote: bool,
    /// Seconds per step (0 < s <= 604800).
    #[arg(long, default_value_t = 10.0, value_parser = seconds, allow_negative_numbers = true)]
    pub timeout_s: f64,
}

/// Arguments of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run directories, or a per-run directory (OUTPUT/RUN_ID) holding
    /// them; exactly shards 0..N-1 of one run, each once.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Results root for the merged run (default: results).
    #[arg(long, default_value = "results")]
    pub output: PathBuf,
    /// Print summary.json instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// `replay FILE`.
    #[command(subcommand)]
    pub replay: Option<FuzzCommand>,
    /// `embedded` (the mock endpoint in-process) or HOST:PORT.
    #[arg(long, default_value = "embedded")]
    pub target: String,
    /// Server name of the valid ClientHello the mutations start from.
    #[arg(long, default_value = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com")]
    pub sni: String,
    /// Cases to run (1 to 100000000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000), allow_negative_numbers = true)]
    pub cases: u64,
    /// Stop after this many seconds even if cases remain.
    #[arg(long, value_parser = seconds, allow_negative_numbers = true)]
    pub duration_s: Option<f64>,
    /// Cases in flight (1 to 4096).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=4096), allow_negative_numbers = true)]
    pub concurrency: u16,
    /// Seed (the same seed gives the same cases).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Per-case read timeout, seconds (answered cases took at most ~60 ms at 256
    /// in flight here; a truncated message waits out the whole timeout).
    #[arg(long, default_value_t = 0.3, value_parser = seconds, allow_negative_numbers = true)]
    pub timeout_s: f64,
    /// Health probe every this many cases (at least 1).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..), allow_negative_numbers = true)]
    pub health_every: u64,
    /// Compare the class distribution with this baseline; exit 1 on any change.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write the class distribution as a baseline.
    #[arg(long)]
    pub write_baseline: Option<PathBuf>,
    /// Results root (default: results).
    #[arg(long, default_value = "results")]
    pub output: PathBuf,
    /// Allow a target outside 127.0.0.0/8 and ::1.
    #[arg(long)]
    pub allow_remote: bool,
    /// Also fuzz the MQTT layer: every fourth case is a mutated CONNECT sent
    /// after a real TLS handshake.
    #[arg(long)]
    pub mqtt: bool,
    /// Trust profile of the MQTT cases' handshakes.
    #[arg(long, default_value = "ats-rsa-only")]
    pub profile: String,
    /// PKI directory (default: the cache; the one `serve` uses).
    #[arg(long)]
    pub pki: Option<PathBuf>,
    /// Differential mode: send every case to this second HOST:PORT too and
    /// report the cases whose classes differ.
    #[arg(long)]
    pub differential: Option<String>,
    /// No live view even on a terminal (a progress line instead).
    #[arg(long)]
    pub no_tui: bool,
    /// Print a progress line every this many seconds (0: none; at most 3600).
    #[arg(long, default_value_t = 2.0, value_parser = seconds_or_zero, allow_negative_numbers = true)]
    pub progress_s: f64,
}

/// `fuzz` subcommands.
#[derive(Debug, Subcommand)]
pub enum FuzzCommand {
    /// Re-send a finding's exact bytes and print the observed class.
    Replay {
        /// A findings/<id>.bin file.
        file: PathBuf,
        /// HOST:PORT.
        #[arg(long)]
        target: std::net::SocketAddr,
    },
}
