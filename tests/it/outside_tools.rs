//! What chainstorm writes, read by tools no one here wrote: Java's
//! `HistogramLogProcessor` and Python's `hdrh` read `latency.hlog`, pandas
//! reads the CSVs without options, pyca/cryptography parses every
//! certificate with all its extensions, and sslyze scans `chainstorm serve`.
//! `scripts/test.sh` installs them (Debian `libhdrhistogram-java`; PyPI
//! `hdrhistogram`, `cryptography`, `sslyze`, `pandas`).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chainstorm::results::Summary;

use crate::common::bin;

/// One real run with failures of two kinds, shared by the tests here.
fn run_dir() -> &'static Path {
    static DIR: OnceLock<(common::EmbeddedScenario, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let s = common::EmbeddedScenario::new(
            "tools",
            "duration_s = 3",
            "[[fleet]]\nname = \"ok\"\ndevices = 90\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
             [[fleet]]\nname = \"java\"\ndevices = 30\nprofile = \"jdk-8u212\"\nendpoint = \"legacy\"\n\
             [[fleet]]\nname = \"stuck\"\ndevices = 30\nprofile = \"legacy-only\"\nendpoint = \"ats\"\n\
             [arrival]\nmode = \"rate\"\nstart_rate = 50\nstages = [{ to_rate = 50, over_s = 3 }]",
        );
        let scenario = &s.scenario;
        let out = bin()
            .args(["run", scenario.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        common::assert_ok(&out);
        let run = common::first_entry(&s.results());
        (s, run)
    })
    .1
}

fn summary() -> Summary {
    Summary::read(run_dir()).unwrap()
}

/// HDR percentiles agree when they name the same bucket: within 0.1 %
/// (3 significant digits) of each other.
fn same_bucket(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.001 * a.max(b) + 1.0
}

/// The Java reader: `HistogramLogProcessor -i latency.hlog` with no flags
/// reads the untagged lines (connect_total over the fleet) of every
/// interval; with `-tag` it reads one series. Counts equal the summary's;
/// p50 and p99 fall in the same bucket.
#[test]
fn java_histogram_log_processor_reads_the_log() {
    let s = summary();
    let log = run_dir().join("latency.hlog");
    let java = |extra: &[&str]| -> Vec<(f64, f64, u64)> {
        let out = Command::new("java")
            .args(["-cp", "/usr/share/java/hdrhistogram.jar"])
            .arg("org.HdrHistogram.HistogramLogProcessor")
            .args([
                "-i",
                log.to_str().unwrap(),
                "-csv",
                "-outputValueUnitRatio",
                "1",
            ])
            .args(extra)
            .output()
            .expect("java runs (Debian libhdrhistogram-java)");
        common::assert_ok(&out);
        // Value,Percentile,TotalCount,1/(1-Percentile)
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Some((
                    f.first()?.parse().ok()?,
                    f.get(1)?.parse().ok()?,
                    f.get(2)?.parse().ok()?,
                ))
            })
            .collect()
    };
    let at = |rows: &[(f64, f64, u64)], q: f64| rows.iter().find(|r| r.1 >= q).unwrap().0;
    let fleet = s
        .phases
        .iter()
        .find(|k| k.phase == chainstorm::metrics::Phase::ConnectTotal)
        .unwrap();
    let rows = java(&[]);
    assert_eq!(
        rows.last().unwrap().2,
        fleet.stats.count,
        "every interval read"
    );
    assert!(
        same_bucket(at(&rows, 0.5), fleet.stats.p50 as f64),
        "{} vs {}",
        at(&rows, 0.5),
        fleet.stats.p50
    );
    assert!(same_bucket(at(&rows, 0.99), fleet.stats.p99 as f64));
    let k = s
        .keys
        .iter()
        .find(|k| k.phase == chainstorm::metrics::Phase::TlsHandshake && k.group == "ok")
        .unwrap();
    let tag = format!("{}/{}/{}", k.phase, k.group, k.endpoint.unwrap());
    let rows = java(&["-tag", &tag]);
    assert_eq!(rows.last().unwrap().2, k.stats.count, "{tag}");
    assert!(same_bucket(at(&rows, 0.99), k.stats.p99 as f64), "{tag}");
}

/// The Python reader: every line of every interval, tagged and untagged;
/// per series, count, p50 and p99 equal the summary's.
#[test]
fn python_hdrh_reads_every_series() {
    let s = summary();
    let out = common::python(&format!(
        r#"
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
r = HistogramLogReader({log:?}, HdrHistogram(1, 60_000_000_000, 3))
by = {{}}
while True:
    h = r.get_next_interval_histogram()
    if h is None:
        break
    by.setdefault(h.get_tag() or "", HdrHistogram(1, 60_000_000_000, 3)).add(h)
for t, h in sorted(by.items()):
    print(t or "-", h.get_total_count(), h.get_value_at_percentile(50), h.get_value_at_percentile(99))
"#,
        log = run_dir().join("latency.hlog").display().to_string()
    ));
    let rows: Vec<(String, u64, f64, f64)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].into(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    let fleet = s
        .phases
        .iter()
        .find(|k| k.phase == chainstorm::metrics::Phase::ConnectTotal)
        .unwrap();
    let untagged = rows
        .iter()
        .find(|r| r.0 == "-")
        .expect("an untagged series");
    assert_eq!(untagged.1, fleet.stats.count);
    for k in &s.keys {
        let mut tag = format!("{}/{}/{}", k.phase, k.group, k.endpoint.unwrap());
        if let Some(a) = &k.anchor {
            tag = format!("{tag}/{a}");
        }
        let r = rows
            .iter()
            .find(|r| r.0 == tag)
            .unwrap_or_else(|| panic!("{tag} missing"));
        assert_eq!(r.1, k.stats.count, "{tag}");
        // Where q·count is not a whole rank, hdrh rounds the rank to the
        // nearest sample and the Rust crate up to the next one: the values
        // may then be neighbours, never in the wrong order.
        let agree = |q: f64, py: f64, ours: f64| {
            if (q * r.1 as f64).fract() == 0.0 {
                same_bucket(py, ours)
            } else {
                py <= ours + 1.0
            }
        };
        assert!(
            agree(0.5, r.2, k.stats.p50 as f64),
            "{tag} p50 {} vs {}",
            r.2,
            k.stats.p50
        );
        assert!(
            agree(0.99, r.3, k.stats.p99 as f64),
            "{tag} p99 {} vs {}",
            r.3,
            k.stats.p99
        );
    }
    assert_eq!(
        rows.len(),
        s.keys.len() + 1,
        "no series beyond the summary's"
    );
}

/// pandas reads the CSVs without options: numeric columns, the header's
/// units, failures.csv rows that sum to the summary's failures, and
/// wire.csv rows whose connects sum to the summary's `wire`.
#[test]
fn pandas_reads_the_csvs() {
    let s = summary();
    let out = common::python(&format!(
        r#"
import pandas as pd
t = pd.read_csv({ts:?})
f = pd.read_csv({fs:?})
assert all(pd.api.types.is_numeric_dtype(t[c]) for c in t.columns if c != "state"), t.dtypes
assert t.columns[-1] == "state"
assert set(t["state"]) <= {{"ramping", "steady", "holding", "draining", "done"}}, set(t["state"])
assert "elapsed_s" in t.columns and "connect_total_p99_ns" in t.columns
assert list(f.columns) == ["elapsed_s", "phase", "cause", "count"], f.columns
# Once a cause is seen, every later tick has its row (0 when it did not occur).
seen = set()
for t_, rows in f.groupby("elapsed_s", sort=True):
    now = set(zip(rows["phase"], rows["cause"]))
    assert seen <= now, (t_, seen - now)
    seen |= now
w = pd.read_csv({ws:?})
assert list(w.columns[:6]) == ["group", "link", "endpoint", "certs", "connects", "retransmitted_share"], w.columns
assert all(pd.api.types.is_numeric_dtype(w[c]) for c in w.columns[3:]), w.dtypes
assert "tls_bytes_down_mean" in w.columns and "connect_total_ns_p99" in w.columns
print(int(t["attempted"].sum()), int(t["failed"].sum()), int(f["count"].sum()), int(w["connects"].sum()))
"#,
        ts = run_dir().join("timeseries.csv").display().to_string(),
        fs = run_dir().join("failures.csv").display().to_string(),
        ws = run_dir().join("wire.csv").display().to_string(),
    ));
    let n: Vec<u64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    let failed: u64 = s.failures.iter().map(|f| f.count).sum();
    let connects: u64 = s.wire.iter().map(|w| w.connects).sum();
    assert!(connects > 0, "the run connected");
    assert_eq!(n, [s.totals.attempted, s.totals.failed, failed, connects]);
}

/// Every certificate `pki init` writes (CA hierarchies, broken variants,
/// device certificates, the fuzz seed corpus) parses with pyca/cryptography
/// including every extension; leaves carry the shape of a real Amazon leaf.
#[test]
fn pyca_cryptography_parses_every_certificate() {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "pki",
            "init",
            "--out",
            d.path().to_str().unwrap(),
            "--devices",
            "3",
        ])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let out = common::python(&format!(
        r#"
import glob
from cryptography import x509
from cryptography.x509.oid import ExtensionOID as E
n = 0
for path in sorted(glob.glob({dir:?} + "/**/*.pem", recursive=True)):
    for c in x509.load_pem_x509_certificates(open(path, "rb").read()):
        exts = {{e.oid: e for e in c.extensions}}  # parses every extension
        n += 1
        bc = exts[E.BASIC_CONSTRAINTS].value
        if not bc.ca:
            assert exts[E.BASIC_CONSTRAINTS].critical, path
        if path.endswith("ats-rsa-leaf.pem") or path.endswith("legacy-leaf.pem"):
            for oid in (E.AUTHORITY_INFORMATION_ACCESS, E.CRL_DISTRIBUTION_POINTS, E.CERTIFICATE_POLICIES):
                assert oid in exts, (path, oid)
            aia = [a.access_location.value for a in exts[E.AUTHORITY_INFORMATION_ACCESS].value]
            assert all(".invalid" in u for u in aia), aia
# The chain_verify seed corpus: u16 length-prefixed DER certificates.
import os
for f in sorted(glob.glob({corpus:?} + "/*")):
    b = open(f, "rb").read()
    while len(b) >= 2:
        k = int.from_bytes(b[:2], "big")
        c = x509.load_der_x509_certificate(b[2:2 + k])
        list(c.extensions)
        n += 1
        b = b[2 + k:]
print(n)
"#,
        dir = d.path().display().to_string(),
        corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/chain_verify")
    ));
    assert!(out.trim().parse::<u32>().unwrap() >= 20, "{out}");
}

/// sslyze's certificate scan completes against `chainstorm serve` for the
/// legacy, ATS RSA and ATS ECC chains (it crashed on the old DER). sslyze
/// offers RSA and ECDSA, so the ECC chain is served by `--prefer-ecc`.
#[test]
fn sslyze_certinfo_completes_for_each_chain() {
    let d = tempfile::tempdir().unwrap();
    let pki = d.path().join("pki");
    common::pki().write_to(&pki).unwrap();
    let legacy = common::legacy_host("us-east-1");
    let ats = common::ats_host("us-east-1");
    for (name, prefer_ecc, want_issuer) in [
        (&legacy, false, "Symantec Class 3 Secure Server CA - G4"),
        (&ats, false, "Amazon RSA 2048 M01"),
        (&ats, true, "Amazon ECDSA 256 M01"),
    ] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut serve = bin();
        serve
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--pki", pki.to_str().unwrap(), "--duration-s", "60"])
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        if prefer_ecc {
            serve.arg("--prefer-ecc");
        }
        let mut serve = serve.spawn().unwrap();
        assert!(common::wait_port(port), "serve listens");
        let json = d.path().join(format!("sslyze-{port}.json"));
        // HOST:PORT{IP}: SNI from the name, traffic to loopback only.
        let out = Command::new("python3")
            .args(["-m", "sslyze", "--certinfo", "--json_out"])
            .arg(&json)
            .arg(format!("{name}:{port}{{127.0.0.1}}"))
            .output()
            .expect("python3 -m sslyze runs");
        let _ = serve.kill();
        let _ = serve.wait();
        common::assert_ok(&out);
        // Python reads sslyze's JSON: it holds integers (RSA moduli) larger
        // than serde_json's numbers.
        let summary = common::python(&format!(
            r#"
import json
r = json.load(open({json:?}))["server_scan_results"][0]
ci = r["scan_result"]["certificate_info"]
print(r["scan_status"], ci["status"])
for dep in ci["result"]["certificate_deployments"]:
    for c in dep["received_certificate_chain"]:
        print(c["issuer"]["rfc4514_string"])
"#,
            json = json.display().to_string()
        ));
        let mut lines = summary.lines();
        assert_eq!(
            lines.next(),
            Some("COMPLETED COMPLETED"),
            "{name}: {summary}"
        );
        let issuers: Vec<&str> = lines.collect();
        assert!(
            issuers.iter().any(|i| i.contains(want_issuer)),
            "{name} (prefer_ecc {prefer_ecc}): {issuers:?}"
        );
    }
}
