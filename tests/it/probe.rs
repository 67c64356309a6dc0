//! `chainstorm probe` against the embedded endpoint over loopback: verdicts
//! per profile, the presented chain and anchor, MQTT CONNACK, fleet weighting.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chainstorm::endpoint::ListenerMode;
use chainstorm::mqtt::Protocol;
use chainstorm::probe::{self, ProbeTarget};
use common::{endpoint, legacy_host, pki};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_chain_and_fleet_share() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let names: Vec<String> = [
        "legacy-only",
        "jdk-8u212",
        "jdk-8u212-no-distrust",
        "ats-rsa-only",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let profiles = probe::profiles(&names, pki()).unwrap();
    let t = ProbeTarget {
        addr,
        sni: rustls::pki_types::ServerName::try_from(legacy_host("us-east-1")).unwrap(),
        alpn: None,
        mqtt: Some(Protocol::V311),
        client_id: "probe-1".into(),
        client_cert: None,
        timeout: Duration::from_secs(5),
    };
    let rs = probe::probe_all(&t, &profiles).await;
    let by = |p: &str| rs.iter().find(|r| r.profile == p).unwrap();
    let ok = by("legacy-only");
    assert!(ok.accepted, "{ok:?}");
    assert_eq!(ok.connack, Some(0));
    assert_eq!(
        ok.anchor.as_deref(),
        Some("VeriSign Class 3 Public Primary Certification Authority - G5")
    );
    assert_eq!(ok.chain.len(), 2);
    assert!(ok.chain[1]
        .subject
        .contains("Symantec Class 3 Secure Server CA - G4"));
    assert!(ok.validation_us.unwrap() > 0.0 && ok.handshake_us.unwrap() > 0.0);
    assert_eq!(ok.tls_version.as_deref(), Some("TLSv1_3"));
    let jdk = by("jdk-8u212");
    assert!(!jdk.accepted);
    assert_eq!(
        jdk.cause.as_ref().map(|c| c.qualified()).as_deref(),
        Some("verify/distrusted(SYMANTEC_TLS)")
    );
    assert_eq!(jdk.chain.len(), 2, "the chain is shown for failures too");
    assert!(by("jdk-8u212-no-distrust").accepted);
    assert_eq!(
        by("ats-rsa-only")
            .cause
            .as_ref()
            .map(|c| c.qualified())
            .as_deref(),
        Some("verify/unknown_issuer")
    );
    let fleet = vec![
        ("legacy-only".to_string(), 500u64),
        ("jdk-8u212".to_string(), 300),
        ("ats-rsa-only".to_string(), 200),
    ];
    let share = probe::fleet_failure_share(&fleet, &rs);
    assert!((share - 0.5).abs() < 1e-9, "{share}");
    let _ = Arc::new(());
}

/// `--fleet` with device models: each group's model probes with its own
/// path builder, buffer, pins and ClientHello, and the share of failing
/// devices is weighed by model. The endpoint serves M01's RSA chain with
/// both cross-certificates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_of_models_is_weighed_by_model() {
    let ep = endpoint(|c| c.settings.rotation.class2_cross = true).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let zoo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/device-zoo.toml");
    let s = chainstorm::scenario::load(&zoo).unwrap();
    let devices = probe::fleet_devices(&s.groups, pki()).unwrap();
    let t = ProbeTarget {
        addr,
        sni: rustls::pki_types::ServerName::try_from(common::ats_host("us-east-1")).unwrap(),
        alpn: None,
        mqtt: Some(Protocol::V311),
        client_id: "probe-fleet".into(),
        client_cert: None,
        timeout: Duration::from_secs(5),
    };
    let kinds: Vec<_> = devices.iter().map(|(d, _)| d.clone()).collect();
    let rs = probe::probe_all(&t, &kinds).await;
    let verdict = |p: &str| {
        let r = rs
            .iter()
            .find(|r| r.profile == p)
            .unwrap_or_else(|| panic!("{p}"));
        if r.accepted {
            "ok".to_string()
        } else {
            r.cause.as_ref().unwrap().qualified()
        }
    };
    assert_eq!(verdict("rustls"), "ok");
    assert_eq!(verdict("pinned-m01"), "ok", "M01 is what it pins");
    assert_eq!(
        verdict("openssl-1.0.2-legacy"),
        "verify/unknown_issuer(via cross-sign, no alternative chains)"
    );
    assert!(verdict("esp32-mbedtls-4k").starts_with("tls/record_exceeds_device_buffer("));
    assert_eq!(verdict("freertos-mbedtls"), "ok");
    assert_eq!(
        verdict("esp32-no-rtc").split('(').next(),
        Some("tls/record_exceeds_device_buffer")
    );
    let fleet: Vec<(String, u64)> = devices.iter().map(|(d, n)| (d.label.clone(), *n)).collect();
    let failing: u64 = fleet
        .iter()
        .filter(|(l, _)| verdict(l) != "ok")
        .map(|(_, n)| n)
        .sum();
    let total: u64 = fleet.iter().map(|(_, n)| n).sum();
    let share = probe::fleet_failure_share(&fleet, &rs);
    assert!((share - failing as f64 / total as f64).abs() < 1e-9);
    // Legacy gateway, wolfssl-strict, both ESP32s, the ECC stack on the
    // legacy name (here the ATS one: it connects), the fast clock.
    assert_eq!(failing, 5 * 40, "{rs:#?}");
}

#[test]
fn cli_require_exits_1_and_remote_is_refused() {
    let bin = env!("CARGO_BIN_EXE_chainstorm");
    let out = std::process::Command::new(bin)
        .args([
            "probe",
            "192.0.2.1:8883",
            "--sni",
            "x-ats.iot.us-east-1.amazonaws.com",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
    // Nothing listens on this loopback port: every profile fails to dial, and
    // a required profile failing is exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = common::pki_files();
    let out = std::process::Command::new(bin)
        .args([
            "probe",
            &format!("127.0.0.1:{port}"),
            "--sni",
            "x-ats.iot.us-east-1.amazonaws.com",
            "--profiles",
            "dual",
            "--require",
            "dual",
            "--json",
            "--pki",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["cause"], "dial/refused");
}

/// Against an endpoint whose mock CA is not the one the probe uses (no
/// `--pki`, so the probe's own cache), every profile fails with
/// `bad_signature`; the probe says to pass `--pki` rather than leave the
/// user with a wall of failures.
#[test]
fn a_foreign_mock_ca_gets_a_pki_hint() {
    let bin = env!("CARGO_BIN_EXE_chainstorm");
    let dir = tempfile::tempdir().unwrap();
    pki().write_to(&dir.path().join("pki")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = std::process::Command::new(bin)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--duration-s",
            "60",
        ])
        .arg("--pki")
        .arg(dir.path().join("pki"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(common::wait_port(port));
    let out = std::process::Command::new(bin)
        .args(["probe", &format!("127.0.0.1:{port}")])
        .args([
            "--sni",
            &common::ats_host("us-east-1"),
            "--profiles",
            "ats-rsa-only,dual",
        ])
        // Its own (empty) cache: a freshly generated, different mock CA.
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("verify/bad_signature"), "{text}");
    assert!(err.contains("pass --pki DIR"), "{err}");
}
