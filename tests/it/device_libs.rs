//! The real TLS libraries the device models are compared with, each run
//! through a small harness in `tests/it/data/device_libs/` over a manifest
//! of cells (chain file, CA file, time, host name, key file). Clocks other
//! than the host's reach mbedTLS, wolfSSL and GnuTLS through libfaketime,
//! since those libraries take the time from `time()`; OpenSSL, Go and Java
//! are given the time through their APIs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::common::{assert_ok, data};

/// A verdict as a library reports it: `ok`, or the set of failure classes
/// (`unknown_issuer`, `expired`, `not_yet_valid`, `name_mismatch`, `other(..)`).
/// OpenSSL, Go, Java and wolfSSL name one reason; mbedTLS and GnuTLS flag
/// every problem they found.
pub type Verdict = BTreeSet<String>;

/// One cell of the matrix as the harnesses read it.
pub struct Cell {
    /// Stable id, `chain|store|clock`.
    pub id: String,
    /// PEM chain, leaf first, as the server sends it.
    pub chain: PathBuf,
    /// PEM trust store.
    pub ca: PathBuf,
    /// Unix time the device believes it is.
    pub at: i64,
    /// Which clock, for libraries that need libfaketime.
    pub clock: Clock,
    /// Host name the device connects to.
    pub host: String,
    /// The leaf's private key (for the wolfSSL handshake's server).
    pub key: PathBuf,
}

/// The clocks of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Clock {
    /// The host's clock.
    Now,
    /// A clock never set: 1970-01-01.
    Unset,
    /// Fifteen years ahead.
    Ahead,
}

/// Days the `Ahead` clock runs ahead.
pub const AHEAD_DAYS: i64 = 15 * 365;

impl Clock {
    /// Label used in cell ids.
    pub fn label(self) -> &'static str {
        match self {
            Clock::Now => "now",
            Clock::Unset => "1970-01-01",
            Clock::Ahead => "+15y",
        }
    }

    /// libfaketime's setting for this clock, if it needs one.
    fn faketime(self) -> Option<String> {
        match self {
            Clock::Now => None,
            Clock::Unset => Some("@1970-01-01 00:00:00".into()),
            Clock::Ahead => Some(format!("+{AHEAD_DAYS}d")),
        }
    }
}

/// The libraries (and modes) the test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lib {
    /// OpenSSL 3 `X509_verify_cert`, default flags (trusted first).
    OpensslTrustedFirst,
    /// OpenSSL 3 with `X509_V_FLAG_TRUSTED_FIRST` cleared.
    OpensslUntrustedFirst,
    /// ... and `X509_V_FLAG_NO_ALT_CHAINS`.
    OpensslNoAltChains,
    /// mbedTLS 2.28 `mbedtls_x509_crt_verify`.
    Mbedtls,
    /// wolfSSL 5.5 client in a handshake.
    Wolfssl,
    /// Go crypto/x509.
    Go,
    /// Java 17 PKIX trust manager.
    Java,
    /// GnuTLS 3.7 `certtool --verify`.
    Gnutls,
}

impl Lib {
    /// Every library run.
    pub const ALL: [Lib; 8] = [
        Lib::OpensslTrustedFirst,
        Lib::OpensslUntrustedFirst,
        Lib::OpensslNoAltChains,
        Lib::Mbedtls,
        Lib::Wolfssl,
        Lib::Go,
        Lib::Java,
        Lib::Gnutls,
    ];

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Lib::OpensslTrustedFirst => "OpenSSL 3",
            Lib::OpensslUntrustedFirst => "OpenSSL 3, trusted-first off",
            Lib::OpensslNoAltChains => "OpenSSL 3, trusted-first off, no alt chains",
            Lib::Mbedtls => "mbedTLS 2.28",
            Lib::Wolfssl => "wolfSSL 5.5 (alt chains)",
            Lib::Go => "Go crypto/x509",
            Lib::Java => "Java 17 PKIX",
            Lib::Gnutls => "GnuTLS 3.7",
        }
    }

    /// True when the library reports every problem it found.
    pub fn reports_all_flags(self) -> bool {
        matches!(self, Lib::Mbedtls | Lib::Gnutls)
    }
}

fn cc(src: &str, out: &Path, libs: &[&str]) {
    let mut c = Command::new("cc");
    c.arg("-O1").arg("-o").arg(out).arg(data(src));
    for l in libs {
        c.arg(format!("-l{l}"));
    }
    let o = c.output().expect("cc runs (apt-get install gcc)");
    assert_ok(&o);
}

fn manifest(cells: &[&Cell]) -> String {
    cells
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {} {}\n",
                c.id,
                c.chain.display(),
                c.ca.display(),
                c.at,
                c.host,
                c.key.display()
            )
        })
        .collect()
}

fn run(mut cmd: Command, input: &str) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

fn parse(out: &str) -> HashMap<String, Verdict> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, v)| (id.to_string(), v.split('+').map(str::to_string).collect()))
        .collect()
}

/// libfaketime's preload library, as Debian's `faketime` package installs it.
fn libfaketime() -> PathBuf {
    let p = PathBuf::from("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    assert!(
        p.exists(),
        "{} missing (apt-get install faketime)",
        p.display()
    );
    p
}

/// Runs `cmd_for()` once per clock, under libfaketime for the others.
fn per_clock(cells: &[Cell], cmd_for: impl Fn() -> Command) -> HashMap<String, Verdict> {
    let mut all = HashMap::new();
    for clock in [Clock::Now, Clock::Unset, Clock::Ahead] {
        let these: Vec<&Cell> = cells.iter().filter(|c| c.clock == clock).collect();
        let mut cmd = cmd_for();
        if let Some(ft) = clock.faketime() {
            cmd.env("LD_PRELOAD", libfaketime()).env("FAKETIME", ft);
        }
        all.extend(parse(&run(cmd, &manifest(&these))));
    }
    all
}

/// Runs `lib` over every cell; `work` holds compiled harnesses.
pub fn verdicts(lib: Lib, cells: &[Cell], work: &Path) -> HashMap<String, Verdict> {
    let all: Vec<&Cell> = cells.iter().collect();
    match lib {
        Lib::OpensslTrustedFirst | Lib::OpensslUntrustedFirst | Lib::OpensslNoAltChains => {
            let bin = work.join("openssl_verify");
            if !bin.exists() {
                cc("device_libs/openssl_verify.c", &bin, &["crypto"]);
            }
            let mode = match lib {
                Lib::OpensslTrustedFirst => "trusted-first",
                Lib::OpensslUntrustedFirst => "untrusted-first",
                _ => "untrusted-first-no-alt",
            };
            let mut c = Command::new(&bin);
            c.arg(mode);
            parse(&run(c, &manifest(&all)))
        }
        Lib::Mbedtls => {
            let bin = work.join("mbedtls_verify");
            cc(
                "device_libs/mbedtls_verify.c",
                &bin,
                &["mbedx509", "mbedcrypto"],
            );
            per_clock(cells, || Command::new(&bin))
        }
        Lib::Wolfssl => {
            let bin = work.join("wolfssl_handshake");
            cc("device_libs/wolfssl_handshake.c", &bin, &["wolfssl"]);
            per_clock(cells, || Command::new(&bin))
        }
        Lib::Go => {
            let bin = work.join("go_verify");
            let mut b = Command::new("go");
            b.arg("build")
                .arg("-o")
                .arg(&bin)
                .arg(data("device_libs/verify.go"))
                .env("GOCACHE", work.join("gocache"))
                .env("GOPATH", work.join("gopath"))
                .env("GO111MODULE", "off");
            let o = b.output().expect("go runs (apt-get install golang-go)");
            assert_ok(&o);
            parse(&run(Command::new(&bin), &manifest(&all)))
        }
        Lib::Java => {
            let mut c = Command::new("java");
            c.args([
                "--add-exports",
                "java.base/sun.security.util=ALL-UNNAMED",
                "--add-exports",
                "java.base/sun.security.provider.certpath=ALL-UNNAMED",
            ])
            .arg(data("device_libs/PkixVerify.java"));
            parse(&run(c, &manifest(&all)))
        }
        Lib::Gnutls => {
            let mut out = HashMap::new();
            for c in cells {
                let mut cmd = Command::new("certtool");
                cmd.arg("--verify")
                    .arg("--load-ca-certificate")
                    .arg(&c.ca)
                    .arg("--infile")
                    .arg(&c.chain)
                    .arg("--verify-hostname")
                    .arg(&c.host);
                if let Some(ft) = c.clock.faketime() {
                    cmd.env("LD_PRELOAD", libfaketime()).env("FAKETIME", ft);
                }
                let o = cmd
                    .output()
                    .expect("certtool runs (apt-get install gnutls-bin)");
                out.insert(
                    c.id.clone(),
                    gnutls_verdict(&String::from_utf8_lossy(&o.stdout)),
                );
            }
            out
        }
    }
}

/// certtool prints "Chain verification output: Verified. ..." or
/// "Not verified. ..." with one sentence per status flag.
fn gnutls_verdict(stdout: &str) -> Verdict {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Chain verification output:"))
        .unwrap_or("no verification output");
    if line.contains(": Verified.") {
        return ["ok".to_string()].into();
    }
    let mut v = Verdict::new();
    for (needle, class) in [
        ("issuer is unknown", "unknown_issuer"),
        ("expired certificate", "expired"),
        ("not yet valid certificate", "not_yet_valid"),
        ("does not match the expected", "name_mismatch"),
    ] {
        if line.contains(needle) {
            v.insert(class.to_string());
        }
    }
    if v.is_empty() {
        v.insert(format!("other({line})"));
    }
    v
}
