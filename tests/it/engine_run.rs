//! The load engine end to end against the embedded endpoint over loopback:
//! results files, per-profile outcomes, calibration against an injected
//! delay, coordinated omission, and fault accounting.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chainstorm::endpoint::Faults;
use chainstorm::engine::Control;
use chainstorm::results::Summary;
use chainstorm::runner::{self, RunOptions, RunOutcome};

/// The shared mock PKI on disk, so runs never race on the user cache.
fn pki_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        common::pki().write_to(d.path()).unwrap();
        d
    })
    .path()
}

fn run_file(
    path: &Path,
    duration: Option<f64>,
    devices: Option<u64>,
) -> (RunOutcome, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        output_dir: Some(out.path().to_path_buf()),
        duration: duration.map(Duration::from_secs_f64),
        devices,
        pki: Some(pki_dir().to_path_buf()),
        ..RunOptions::default()
    };
    let s = runner::prepare(path, &opts).expect("scenario loads");
    (
        runner::run_scenario(s, opts, Control::new(), |_| {}).expect("run completes"),
        out,
    )
}

fn run_text(toml: &str) -> (RunOutcome, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scenario.toml");
    std::fs::write(&p, toml).unwrap();
    let r = run_file(&p, None, None);
    drop(dir);
    r
}

fn phase<'a>(s: &'a Summary, name: &str) -> &'a chainstorm::results::KeyStats {
    s.phases.iter().find(|k| k.phase.label() == name).unwrap()
}

fn failures(s: &Summary, group: &str) -> Vec<(String, u64)> {
    s.failures
        .iter()
        .filter(|f| f.group == group)
        .map(|f| (f.cause.to_string(), f.count))
        .collect()
}

#[test]
fn quickstart_runs_end_to_end_and_results_parse() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/quickstart.toml"
    ));
    let (o, _out) = run_file(&path, Some(4.0), Some(25));
    let s = &o.summary;
    assert!(s.totals.accounting_ok);
    assert_eq!(
        s.totals.attempted,
        s.totals.succeeded + s.totals.failed + s.totals.in_flight_at_stop
    );
    assert!(s.totals.attempted > 50, "{:?}", s.totals);
    // The trust matrix, lived by the fleet.
    assert_eq!(
        failures(s, "java-clients")
            .iter()
            .map(|f| f.0.as_str())
            .collect::<Vec<_>>(),
        ["distrusted(SYMANTEC_TLS)"]
    );
    assert_eq!(
        failures(s, "legacy-stuck-on-ats")
            .iter()
            .map(|f| f.0.as_str())
            .collect::<Vec<_>>(),
        ["unknown_issuer"]
    );
    for g in [
        "legacy-devices",
        "ats-rsa-devices",
        "ecc-devices",
        "starfield-devices",
    ] {
        assert!(failures(s, g).is_empty(), "{g}: {:?}", failures(s, g));
    }
    // Chain validation per anchor: ECC devices validated to Amazon Root CA 3,
    // Starfield devices through the cross-sign.
    let anchors: Vec<(&str, &str)> = s
        .keys
        .iter()
        .filter(|k| k.phase == chainstorm::metrics::Phase::ChainValidation)
        .map(|k| (k.group.as_str(), k.anchor.map(|a| a.label()).unwrap_or("")))
        .collect();
    assert!(anchors.contains(&("ecc-devices", "ats-ecc")));
    assert!(anchors.contains(&("starfield-devices", "cross-signed")));
    assert!(anchors.contains(&("legacy-devices", "legacy-rsa")));

    // summary.json parses back.
    let back: Summary =
        serde_json::from_str(&std::fs::read_to_string(o.dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(back.totals.attempted, s.totals.attempted);
    // latency.hlog reads back with the hdrhistogram crate's log reader.
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let log = std::fs::read(o.dir.join("latency.hlog")).unwrap();
    let mut de = Deserializer::new();
    let (mut hists, mut samples, mut tags) = (0, 0u64, std::collections::BTreeSet::new());
    for e in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(ilh) = e.expect("valid log entry") {
            let bytes = base64_decode(ilh.encoded_histogram());
            let h: hdrhistogram::Histogram<u64> = de.deserialize(&mut &bytes[..]).unwrap();
            hists += 1;
            if ilh
                .tag()
                .map(|t| t.as_str().starts_with("connect_total/"))
                .unwrap_or(false)
            {
                samples += h.len();
            }
            if let Some(t) = ilh.tag() {
                tags.insert(t.as_str().to_string());
            }
        }
    }
    assert!(hists > 0);
    assert_eq!(
        samples, s.totals.succeeded,
        "every success has one connect_total sample in the log"
    );
    assert!(
        tags.iter()
            .any(|t| t.starts_with("chain_validation/starfield-devices/ats-rsa/cross-signed")),
        "{tags:?}"
    );
    // timeseries.csv: header + one row per tick, attempts add up.
    let csv = std::fs::read_to_string(o.dir.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("elapsed_s,attempted,succeeded"));
    let attempted: u64 = lines
        .map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(attempted, s.totals.attempted);
    assert!(o.dir.join("scenario.toml").exists());
}

/// The standard alphabet, for the log's base64 histograms.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let k = chunk.len() * 6 / 8;
        for i in 0..k {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

fn scenario(extra_target: &str, fleet: &str, arrival: &str, duration: f64) -> String {
    format!(
        r#"
[run]
name = "t"
seed = 7
duration_s = {duration}
drain_timeout_s = 5
[target]
kind = "embedded"
pki = "{pki}"
{extra_target}
{fleet}
{arrival}
"#,
        pki = pki_dir().display()
    )
}

#[test]
fn dual_devices_connect_to_both_endpoints() {
    let fleet = r#"
[[fleet]]
name = "dual-legacy"
devices = 20
profile = "dual"
endpoint = "legacy"
[[fleet]]
name = "dual-ats"
devices = 20
profile = "dual"
protocol = "mqtt5"
endpoint = "ats"
[[fleet]]
name = "jdk-workaround"
devices = 20
profile = "jdk-8u212-no-distrust"
endpoint = "legacy"
"#;
    let (o, _d) = run_text(&scenario(
        "",
        fleet,
        "[arrival]\nmode = \"rate\"\nstages = [{ to_rate = 60, over_s = 2 }]",
        2.0,
    ));
    let s = &o.summary;
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert_eq!(s.totals.succeeded, s.totals.attempted);
    assert!(s.totals.attempted >= 50, "{:?}", s.totals);
}

fn tls_p50(delay_ms: Option<f64>) -> f64 {
    let faults = match delay_ms {
        Some(ms) => {
            format!("[target.endpoint.faults]\nhandshake_delay = {{ kind = \"fixed\", ms = {ms} }}")
        }
        None => String::new(),
    };
    let fleet = "[[fleet]]\nname = \"g\"\ndevices = 200\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"";
    let (o, _d) = run_text(&scenario(
        &faults,
        fleet,
        "[arrival]\nmode = \"rate\"\nstart_rate = 40\nstages = [{ to_rate = 40, over_s = 3 }]",
        3.0,
    ));
    assert_eq!(o.summary.totals.failed, 0);
    phase(&o.summary, "tls_handshake").stats.p50 as f64
}

#[test]
fn calibration_injected_handshake_delay_shows_up_exactly() {
    let base = tls_p50(None);
    let d = 50e6;
    let delayed = tls_p50(Some(50.0));
    let want = base + d;
    assert!(
        (delayed - want).abs() <= 0.05 * want,
        "tls_handshake p50 {delayed:.0} ns, expected {want:.0} ns (baseline {base:.0} + 50 ms) within 5 %"
    );
}

#[test]
fn coordinated_omission_is_corrected() {
    // The server stalls for 2 s starting 1 s in; arrivals keep coming at 50/s.
    let stall = 2.0;
    let pause = "[target.endpoint.faults]\npause = { after_s = 1.0, duration_s = 2.0 }";
    let fleet = "[[fleet]]\nname = \"g\"\ndevices = 1000\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"";
    // Open loop, no cap: every attempt during the stall waits for it.
    let (o, _d) = run_text(&scenario(
        pause,
        fleet,
        "[arrival]\nmode = \"rate\"\nstart_rate = 50\nstages = [{ to_rate = 50, over_s = 5 }]",
        5.0,
    ));
    let ct = phase(&o.summary, "connect_total").stats.p99 as f64 / 1e9;
    let st = phase(&o.summary, "service_time").stats.p99 as f64 / 1e9;
    assert!(ct >= stall / 2.0, "connect_total p99 {ct:.3}s");
    assert!(
        st >= stall / 2.0,
        "open loop: service time shows the stall too ({st:.3}s)"
    );
    // Two connections in flight at most, as a closed-loop tool with two
    // connections would run: its uncorrected service time hides the stall,
    // the corrected connect_total does not.
    let (o, _d) = run_text(&scenario(pause, fleet, "[arrival]\nmode = \"rate\"\nstart_rate = 50\nstages = [{ to_rate = 50, over_s = 5 }]\nmax_in_flight = 2", 5.0));
    let ct = phase(&o.summary, "connect_total").stats.p99 as f64 / 1e9;
    let st = phase(&o.summary, "service_time").stats.p99 as f64 / 1e9;
    assert!(ct >= stall / 2.0, "capped: connect_total p99 {ct:.3}s");
    assert!(
        st < stall / 2.0,
        "capped: the uncorrected service time p99 {st:.3}s hides the stall"
    );
}

#[test]
fn faults_land_in_their_buckets_with_the_planned_counts() {
    let faults = Faults {
        seed: 99,
        refuse_rate: 0.1,
        reset_rate: 0.1,
        stall_rate: 0.05,
        connack_refusal: Some(chainstorm::endpoint::ConnackRefusal {
            rate: 0.1,
            code_v311: 3,
            code_v5: 0x9F,
        }),
        ..Faults::default()
    };
    let n = 300u64;
    let plans: Vec<_> = (0..n).map(|i| faults.plan(0, i)).collect();
    use chainstorm::endpoint::ConnFault as F;
    let count = |k: F| plans.iter().filter(|p| p.fault == k).count() as u64;
    let refused_connack = plans
        .iter()
        .filter(|p| p.fault == F::None && p.connack_refusal.is_some())
        .count() as u64;
    let target = "tls_timeout_s_placeholder = 0\n[target.endpoint.faults]\nseed = 99\nrefuse_rate = 0.1\nreset_rate = 0.1\nstall_rate = 0.05\nconnack_refusal = { rate = 0.1, code_v311 = 3, code_v5 = 159 }";
    let target = target.replace("tls_timeout_s_placeholder = 0\n", "");
    let fleet = format!("[[fleet]]\nname = \"g\"\ndevices = {n}\nprofile = \"ats-rsa-only\"\nprotocol = \"mqtt311\"\nendpoint = \"ats\"");
    let text = scenario(
        &target,
        &fleet,
        "[arrival]\nmode = \"rate\"\nstart_rate = 150\nstages = [{ to_rate = 150, over_s = 2 }]",
        3.0,
    )
    .replace(
        "drain_timeout_s = 5",
        "drain_timeout_s = 5\ntls_timeout_s = 1.5",
    );
    let (o, _d) = run_text(&text);
    let s = &o.summary;
    let got = |cause: &str| {
        s.failures
            .iter()
            .filter(|f| f.cause.to_string() == cause)
            .map(|f| f.count)
            .sum::<u64>()
    };
    assert_eq!(s.totals.attempted, n);
    assert_eq!(
        got("closed_during_handshake"),
        count(F::Refuse),
        "{:?}",
        s.failures
    );
    assert_eq!(got("reset"), count(F::Reset), "{:?}", s.failures);
    assert_eq!(got("timeout"), count(F::Stall), "{:?}", s.failures);
    assert_eq!(got("connack(0x03)"), refused_connack, "{:?}", s.failures);
    assert_eq!(s.totals.succeeded, count(F::None) - refused_connack);
    // And the realised rates are within binomial error of the configured ones.
    let sd = (0.1f64 * 0.9 / n as f64).sqrt();
    assert!((count(F::Refuse) as f64 / n as f64 - 0.1).abs() < 4.0 * sd);
}

#[test]
fn broken_chain_is_a_verify_failure() {
    let target = "[target.endpoint.faults]\nbroken_chain = \"expired\"";
    let fleet = "[[fleet]]\nname = \"g\"\ndevices = 20\nprofile = \"dual\"\nprotocol = \"tls\"\nendpoint = \"ats\"";
    let (o, _d) = run_text(&scenario(target, fleet, "[arrival]\nmode = \"storm\"", 2.0));
    assert_eq!(failures(&o.summary, "g"), vec![("expired".to_string(), 20)]);
}

#[test]
fn per_device_certificate_files_from_a_directory() {
    let certs = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let id = common::pki()
            .device_ca()
            .mint(&format!("thing-{i:03}"))
            .unwrap();
        std::fs::write(
            certs.path().join(format!("thing-{i:03}.pem")),
            pem::encode(&pem::Pem::new("CERTIFICATE", id.cert.as_ref().to_vec())),
        )
        .unwrap();
        std::fs::write(
            certs.path().join(format!("thing-{i:03}.key")),
            pem::encode(&pem::Pem::new("PRIVATE KEY", id.key.secret_der().to_vec())),
        )
        .unwrap();
    }
    let target = format!(
        "client_cert_dir = \"{}\"\n[target.endpoint]\nmtls = \"required\"",
        certs.path().display()
    );
    let fleet = "[[fleet]]\nname = \"things\"\ndevices = 6\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\nmtls = true\nclient_id = \"thing-{index:03}\"";
    let (o, _d) = run_text(&scenario(
        &target,
        fleet,
        "[arrival]\nmode = \"storm\"",
        2.0,
    ));
    assert!(o.summary.failures.is_empty(), "{:?}", o.summary.failures);
    assert_eq!(o.summary.totals.succeeded, 6);
}

/// The engine and the probe classify the same failure the same way: both
/// call `client::handshake_failure` (the probe once labelled every
/// non-alert error `closed_during_handshake`, where the engine said
/// `reset` or `timeout`).
#[test]
fn engine_and_probe_report_the_same_cause() {
    let cases: [(&str, Faults, &str, &str); 5] = [
        (
            "refuse_rate = 1.0",
            Faults {
                refuse_rate: 1.0,
                ..Faults::default()
            },
            "ats-rsa-only",
            "tls/closed_during_handshake",
        ),
        (
            "reset_rate = 1.0",
            Faults {
                reset_rate: 1.0,
                ..Faults::default()
            },
            "ats-rsa-only",
            "tls/reset",
        ),
        (
            "stall_rate = 1.0",
            Faults {
                stall_rate: 1.0,
                ..Faults::default()
            },
            "ats-rsa-only",
            "tls/timeout",
        ),
        (
            "seed = 1",
            Faults::default(),
            "legacy-only",
            "verify/unknown_issuer",
        ),
        (
            "connack_refusal = { rate = 1.0, code_v311 = 3, code_v5 = 159 }",
            Faults {
                connack_refusal: Some(chainstorm::endpoint::ConnackRefusal {
                    rate: 1.0,
                    code_v311: 3,
                    code_v5: 0x9F,
                }),
                ..Faults::default()
            },
            "ats-rsa-only",
            "mqtt/connack(0x03)",
        ),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (fault_toml, faults, profile, want) in cases {
        let fleet = format!("[[fleet]]\nname = \"g\"\ndevices = 3\nprofile = \"{profile}\"\nprotocol = \"mqtt311\"\nendpoint = \"ats\"");
        let text = scenario(
            &format!("[target.endpoint.faults]\n{fault_toml}"),
            &fleet,
            "[arrival]\nmode = \"storm\"",
            2.0,
        )
        .replace(
            "drain_timeout_s = 5",
            "drain_timeout_s = 5\ntls_timeout_s = 1.0",
        );
        let (o, _d) = run_text(&text);
        let engine: Vec<String> = o
            .summary
            .failures
            .iter()
            .map(|f| f.cause.qualified())
            .collect();
        assert_eq!(engine, [want], "engine, {fault_toml}");

        let r = rt.block_on(async {
            let ep = common::endpoint(|c| c.settings.faults = faults.clone()).await;
            let t = chainstorm::probe::ProbeTarget {
                addr: ep.addr(chainstorm::endpoint::ListenerMode::Mqtt).unwrap(),
                sni: rustls::pki_types::ServerName::try_from(common::ats_host("us-east-1"))
                    .unwrap(),
                alpn: None,
                mqtt: Some(chainstorm::mqtt::Protocol::V311),
                client_id: "probe-1".into(),
                client_cert: None,
                timeout: Duration::from_secs(1),
            };
            let profiles =
                chainstorm::probe::profiles(&[profile.to_string()], common::pki()).unwrap();
            chainstorm::probe::probe_one(&t, profiles[0].clone()).await
        });
        assert_eq!(
            r.cause.map(|c| c.qualified()).as_deref(),
            Some(want),
            "probe, {fault_toml}: {:?}",
            r.message
        );
    }
}

/// `protocol = "tcp"`: connect, then close, no TLS: every attempt succeeds
/// with a TCP connect time and no handshake, the floor TLS is compared with
/// (`scripts/bench_peers.sh`).
#[test]
fn tcp_protocol_connects_and_closes_without_tls() {
    let s = crate::common::EmbeddedScenario::new(
        "tcp-floor",
        "duration_s = 2",
        "[[fleet]]\nname = \"g\"\ndevices = 50\nprofile = \"ats-rsa-only\"\nprotocol = \"tcp\"\n\
         endpoint = \"ats\"\n[arrival]\nmode = \"rate\"\nstart_rate = 25\n\
         stages = [{ to_rate = 25, over_s = 2 }]",
    );
    let out = crate::common::bin()
        .args(["run", s.scenario.to_str().unwrap(), "--quiet", "--no-tui"])
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let dir = crate::common::first_entry(&s.results());
    let sum = chainstorm::results::Summary::read(&dir).unwrap();
    // 25/s for 2 s: the arrivals that fall inside the window (49 or 50).
    let n = sum.totals.attempted;
    assert!((45..=50).contains(&n), "{n}");
    assert_eq!((sum.totals.succeeded, sum.totals.failed), (n, 0));
    assert_eq!(sum.totals.handshakes_full, 0);
    let count = |p: &str| {
        sum.phases
            .iter()
            .find(|k| k.phase.label() == p)
            .unwrap()
            .stats
            .count
    };
    assert_eq!(count("tcp_connect"), n);
    assert_eq!(count("tls_handshake"), 0);
    assert_eq!(count("connect_total"), n);
}
