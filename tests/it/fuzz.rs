//! The network fuzzer against the real embedded endpoint (rustls on a
//! loopback socket): a seed reproduces the campaign's class distribution,
//! the control cases all get a ServerHello, broken framing never does, the
//! corpus holds one case per novel (operator, class), and the CLI's
//! baseline gate and replay work on what a campaign wrote.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chainstorm::fuzzer::campaign::{self, Campaign, FindingKind, Report};
use chainstorm::trust::{ChainVerifier, TimedVerifier};

const SNI: &str = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com";

async fn campaign(target: std::net::SocketAddr, out: &Path) -> Report {
    campaign_with(target, out, None, None).await
}

async fn campaign_with(
    target: std::net::SocketAddr,
    out: &Path,
    mqtt: Option<Arc<rustls::ClientConfig>>,
    second: Option<std::net::SocketAddr>,
) -> Report {
    campaign::run(Campaign {
        target,
        sni: SNI.into(),
        cases: 1_200,
        duration: None,
        concurrency: 64,
        seed: 3,
        timeout: Duration::from_secs(1),
        health_every: 400,
        out: out.to_path_buf(),
        mqtt,
        second,
    })
    .await
    .expect("campaign runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_reproduces_the_campaign() {
    let ep = common::endpoint(|_| {}).await;
    let target = ep.addrs()[0].1;
    let dir = tempfile::tempdir().unwrap();
    let a = campaign(target, &dir.path().join("a")).await;
    let b = campaign(target, &dir.path().join("b")).await;
    assert_eq!(a.cases, 1_200);
    assert_eq!(a.classes, b.classes, "same seed, same distribution");
    assert_eq!(a.novel, b.novel);
    assert!(
        a.findings.iter().all(|f| f.kind != FindingKind::TargetDown),
        "{:?}",
        a.findings
    );

    let count = |k: &str| a.classes.get(k).copied().unwrap_or(0);
    let valid: u64 = (0..1_200)
        .filter(|&i| campaign::case(3, i, SNI).op.name() == "valid")
        .count() as u64;
    assert!(valid > 0);
    assert_eq!(
        count("valid|server_hello"),
        valid,
        "every control case is answered with a ServerHello"
    );
    assert_eq!(count("truncate|server_hello"), 0);
    assert!(
        a.classes
            .keys()
            .any(|k| k.starts_with("sni_huge|alert_received(")),
        "{:?}",
        a.classes.keys()
    );

    // One corpus entry (bytes + metadata) per novel pair, and they replay.
    let corpus = dir.path().join("a/corpus");
    let bins: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    assert_eq!(bins.len(), a.novel.len());
    assert!(dir.path().join("a/report.json").is_file());
    // Replaying a stored case against the same target reproduces its class.
    let sni_huge = bins
        .iter()
        .find(|p| p.to_string_lossy().contains("sni_huge"))
        .expect("sni_huge in corpus")
        .clone();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sni_huge.with_extension("json")).unwrap())
            .unwrap();
    assert!(
        meta["case_ms"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0 && ms < 1_000.0),
        "{meta}"
    );
    assert_eq!(meta["layer"], "tls");
    let path = sni_huge.to_str().unwrap().to_string();
    let (code, text) = tokio::task::spawn_blocking(move || {
        bin(&["fuzz", "replay", &path, "--target", &target.to_string()])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(meta["class"].as_str().unwrap()),
        "{text} vs {meta}"
    );
    ep.shutdown(Duration::from_secs(2)).await;
}

fn bin(args: &[&str]) -> (i32, String) {
    let out = crate::common::bin()
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cli_baseline_gate_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let base = format!("{d}/baseline.json");
    let common = [
        "fuzz",
        "--cases",
        "300",
        "--seed",
        "5",
        "--timeout-s",
        "1",
        "--output",
        d,
    ];
    let (code, text) = bin(&[&common[..], &["--write-baseline", &base]].concat());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("300 cases"), "{text}");
    let (code, text) = bin(&[&common[..], &["--baseline", &base]].concat());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("matches the baseline"), "{text}");

    // A changed distribution fails the gate and names the class.
    let mut dist: std::collections::BTreeMap<String, u64> =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    *dist
        .get_mut("valid|server_hello")
        .expect("control class present") += 1;
    std::fs::write(&base, serde_json::to_string(&dist).unwrap()).unwrap();
    let (code, text) = bin(&[&common[..], &["--baseline", &base]].concat());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("valid|server_hello"), "{text}");

    // Replay refuses non-loopback targets and needs the file to exist.
    let (code, text) = bin(&[
        "fuzz",
        "replay",
        "/nonexistent.bin",
        "--target",
        "127.0.0.1:1",
    ]);
    assert_ne!(code, 0);
    assert!(text.contains("/nonexistent.bin"), "{text}");
    let (code, text) = bin(&["fuzz", "replay", &base, "--target", "10.1.2.3:8883"]);
    assert_ne!(code, 0);
    assert!(text.contains("--allow-remote"), "{text}");
}

fn mqtt_client() -> Arc<rustls::ClientConfig> {
    let verifier = TimedVerifier::new(Arc::new(ChainVerifier::new(common::profile(
        "ats-rsa-only",
    ))));
    Arc::new(
        chainstorm::client::ClientOptions::default()
            .build(Arc::new(verifier))
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_cases_reach_the_broker_after_a_real_handshake() {
    let ep = common::endpoint(|_| {}).await;
    let target = ep.addrs()[0].1;
    let dir = tempfile::tempdir().unwrap();
    let r = campaign_with(target, dir.path(), Some(mqtt_client()), None).await;
    let count = |prefix: &str| {
        r.classes
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let mqtt_cases = (0..1_200).filter(|i| i % 4 == 3).count() as u64;
    assert_eq!(count("mqtt_"), mqtt_cases, "{:?}", r.classes);
    // The control CONNECTs are all accepted, in their own protocol version.
    let valid = count("mqtt_valid|");
    assert!(valid > 0);
    assert_eq!(
        count("mqtt_valid|connack(v3,0x00)") + count("mqtt_valid|connack(v5,0x00)"),
        valid,
        "{:?}",
        r.classes
    );
    // A wrong protocol name is refused (3.1.1: code 1; 5.0: 0x84) or closed, never accepted.
    assert_eq!(
        count("mqtt_protocol_name|connack(v3,0x00)") + count("mqtt_protocol_name|connack(v5,0x00)"),
        0
    );
    assert!(count("mqtt_protocol_name|") > 0);
    assert!(
        r.findings.iter().all(|f| f.kind != FindingKind::TargetDown),
        "{:?}",
        r.findings
    );
    ep.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_mode_reports_only_real_differences() {
    let ep = common::endpoint(|_| {}).await;
    // A second endpoint that serves another account: our SNI is unknown there.
    let other = common::endpoint(|c| c.account_prefix = Some("zzzzzzzzzzzzzz".into())).await;
    let (plain, elsewhere) = (ep.addrs()[0].1, other.addrs()[0].1);
    let dir = tempfile::tempdir().unwrap();
    // The same listener twice: nothing diverges.
    let same = campaign_with(plain, &dir.path().join("same"), None, Some(plain)).await;
    assert!(same.divergent.is_empty(), "{:?}", same.divergent);
    // Every valid ClientHello diverges: a ServerHello here, an
    // unrecognised_name alert there.
    let diff = campaign_with(plain, &dir.path().join("diff"), None, Some(elsewhere)).await;
    let valid_diverged: u64 = diff
        .divergent
        .iter()
        .filter(|(k, _)| k.starts_with("valid|server_hello|"))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(
        valid_diverged, diff.classes["valid|server_hello"],
        "{:?}",
        diff.divergent
    );
    assert!(
        diff.divergent
            .contains_key("valid|server_hello|alert_received(unrecognisedname)"),
        "{:?}",
        diff.divergent
    );
    assert!(
        dir.path()
            .join("diff/divergent")
            .read_dir()
            .unwrap()
            .count()
            >= 2
    );
    ep.shutdown(Duration::from_secs(2)).await;
    other.shutdown(Duration::from_secs(2)).await;
}

/// Under CPU contention a slow answer is not a hang: with a 20 ms timeout
/// and both cores busy, cases time out, but each is replayed alone with a
/// longer timeout before it could become a finding, so a campaign against
/// an endpoint that answers everything reports no hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_machine_makes_no_hang_findings() {
    let ep = common::endpoint(|_| {}).await;
    let target = ep.addrs()[0].1;
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
        })
        .collect();
    let r = campaign::run(Campaign {
        target,
        sni: SNI.into(),
        cases: 1_500,
        duration: Some(Duration::from_secs(60)),
        concurrency: 128,
        seed: 11,
        timeout: Duration::from_millis(20),
        health_every: 500,
        out: dir.path().to_path_buf(),
        mqtt: None,
        second: None,
    })
    .await
    .expect("campaign runs");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hogs {
        let _ = h.join();
    }
    let timeouts: u64 = r
        .classes
        .iter()
        .filter(|(k, _)| k.ends_with("|timeout"))
        .map(|(_, n)| n)
        .sum();
    eprintln!("loaded campaign: {timeouts} cases timed out at 20 ms");
    assert!(
        r.findings.iter().all(|f| f.kind != FindingKind::Hang),
        "{timeouts} timeouts, findings {:?}",
        r.findings
    );
}
