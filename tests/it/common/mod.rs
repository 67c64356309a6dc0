//! Shared fixtures: one mock PKI per test binary (RSA key generation is the
//! slow part), and helpers to verify a chain against a profile.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig};
use chainstorm::trust::{ChainVerifier, TrustProfile, VerifyFailure};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// The PKI shared by every test of this binary.
pub fn pki() -> &'static PkiBundle {
    static PKI: OnceLock<PkiBundle> = OnceLock::new();
    PKI.get_or_init(|| PkiBundle::generate(PkiConfig::default()).expect("mock PKI generates"))
}

/// The shared PKI written out as PEM files (what `pki init` writes), for
/// peers that read files: s_client, mosquitto, probe's `--pki`.
pub fn pki_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    pki().write_to(dir.path()).unwrap();
    dir
}

/// The server name every valid mock chain covers.
pub fn ats_name() -> ServerName<'static> {
    ServerName::try_from("a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com").unwrap()
}

/// The legacy endpoint name.
pub fn legacy_name() -> ServerName<'static> {
    ServerName::try_from("a1b2c3d4e5f6g7.iot.us-east-1.amazonaws.com").unwrap()
}

/// The name a device would use to reach an endpoint serving `kind`.
pub fn name_for(kind: ChainKind) -> ServerName<'static> {
    match kind {
        ChainKind::Legacy => legacy_name(),
        _ => ats_name(),
    }
}

/// Resolves a profile against the shared PKI.
pub fn profile(name: &str) -> Arc<TrustProfile> {
    Arc::new(TrustProfile::resolve(name, pki()).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// Verifies a served chain with our verifier; `Ok(anchor CN)` or the cause label.
pub fn verdict(
    v: &ChainVerifier,
    certs: &[CertificateDer<'static>],
    name: &ServerName<'_>,
) -> Result<String, VerifyFailure> {
    v.verify(&certs[0], &certs[1..], name, UnixTime::now())
        .map(|ok| {
            v.profile().anchor_info[ok.anchor_index]
                .display_name()
                .to_string()
        })
}

pub mod client;

/// A new endpoint with one listener of each mode on 127.0.0.1 (port 0).
pub async fn endpoint(
    f: impl FnOnce(&mut chainstorm::endpoint::EndpointConfig),
) -> chainstorm::endpoint::EndpointHandle {
    use chainstorm::endpoint::{EndpointConfig, ListenerConfig, ListenerMode};
    let mut cfg = EndpointConfig::mqtt("127.0.0.1:0".parse().unwrap());
    cfg.listeners.push(ListenerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        mode: ListenerMode::MqttAlpn,
    });
    cfg.listeners.push(ListenerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        mode: ListenerMode::TlsOnly,
    });
    f(&mut cfg);
    chainstorm::endpoint::Endpoint::start(cfg, pki())
        .await
        .expect("endpoint starts")
}

/// The ATS host name for a region.
pub fn ats_host(region: &str) -> String {
    chainstorm::pki::regions::endpoint_host("a1b2c3d4e5f6g7", region, true)
}

/// The legacy host name for a region.
pub fn legacy_host(region: &str) -> String {
    chainstorm::pki::regions::endpoint_host("a1b2c3d4e5f6g7", region, false)
}

/// Waits (up to 5 s) until `cond` holds: server-side counters are bumped a
/// moment after the client sees its side complete.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    cond()
}

/// Asserts a finished command exited 0, showing its stderr when not.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file of `tests/it/data/`.
pub fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/data")
        .join(name)
}

/// Runs a Python 3 script (the outside readers: hdrh, pyca/cryptography,
/// junitparser, pandas, sslyze, installed by `scripts/test.sh`) and returns
/// its stdout; a failing script fails the test with its stderr.
pub fn python(script: &str) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// The project's binary, as a command.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_chainstorm"))
}

/// Whether an outside tool the test needs is on PATH. Outside CI its
/// absence skips the test with a note; under CI (where `.ci/run` installs
/// it) its absence fails the test.
pub fn have(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        missing(tool);
    }
    found
}

/// A needed tool is absent: fails under CI, else notes the skip.
pub fn missing(tool: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{tool} is required under CI"
    );
    eprintln!("skipping: {tool} not installed (scripts/test.sh installs it)");
}

/// Waits up to 10 s, without blocking the runtime, for something to
/// listen on `addr`.
pub async fn wait_listening(addr: std::net::SocketAddr) -> bool {
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < until {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// Waits up to 10 s for something to listen on 127.0.0.1:`port`.
pub fn wait_port(port: u16) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// The first entry of a directory (a run's results directory, say).
pub fn first_entry(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .next()
        .unwrap_or_else(|| panic!("{} is empty", dir.display()))
        .unwrap()
        .path()
}

/// A loopback port nothing listens on (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scenario against the embedded endpoint in its own temporary directory,
/// with the shared mock PKI written beside it and results going to
/// `DIR/results`. Every end-to-end run of this binary starts from one.
pub struct EmbeddedScenario {
    /// Holds the PKI, the scenario file and the results.
    pub dir: tempfile::TempDir,
    /// The scenario file.
    pub scenario: std::path::PathBuf,
}

impl EmbeddedScenario {
    /// `run` goes into `[run]` (after `name` and `output_dir`), `rest` after
    /// `[target]` (fleet groups, arrival, thresholds, faults).
    pub fn new(name: &str, run: &str, rest: &str) -> EmbeddedScenario {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        self::pki().write_to(&pki).unwrap();
        let text = format!(
            "[run]\nname = \"{name}\"\noutput_dir = \"{out}\"\n{run}\n\
             [target]\nkind = \"embedded\"\npki = \"{pki}\"\n{rest}\n",
            out = dir.path().join("results").display(),
            pki = pki.display()
        );
        let scenario = dir.path().join(format!("{name}.toml"));
        std::fs::write(&scenario, text).unwrap();
        EmbeddedScenario { dir, scenario }
    }

    /// Where the runs' results directories land.
    pub fn results(&self) -> std::path::PathBuf {
        self.dir.path().join("results")
    }
}
