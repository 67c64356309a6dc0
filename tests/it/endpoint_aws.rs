//! Where a device can tell the mock endpoint from AWS IoT Core on the TLS
//! side, checked with `openssl s_client` (and Python's ssl for the
//! silent-443 case): each security policy's versions, suites and server
//! order; intermediate rotation across connections; the cross-certificate
//! switches; max_fragment_length offers ignored and counted; missing SNI;
//! port 443 without the MQTT ALPN; no post-quantum hybrid.

use crate::common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;

use chainstorm::endpoint::{ListenerMode, SecurityPolicy};
use common::{ats_host, endpoint, pki};

use super::interop::s_client;
use common::have;

fn cipher(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| {
            l.split_once("Cipher is ")
                .map(|(_, c)| c.trim().to_string())
        })
        .filter(|c| c != "(NONE)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_versions_suites_and_order() {
    if !have("openssl") {
        return;
    }
    let dir = common::pki_files();
    let ca = dir.path().join("ats-rsa-root.pem");
    let ecc = dir.path().join("ats-ecc-root.pem");
    let host = ats_host("us-east-1");
    // (policy, s_client args, root, negotiated suite or None for a refusal)
    let cases: Vec<(SecurityPolicy, Vec<&str>, &std::path::Path, Option<&str>)> = vec![
        (SecurityPolicy::Tls13Only, vec!["-tls1_2"], &ca, None),
        (
            SecurityPolicy::Tls13Only,
            vec!["-tls1_3"],
            &ca,
            Some("TLS_AES_128_GCM_SHA256"),
        ),
        (SecurityPolicy::Tls12Only, vec!["-tls1_3"], &ca, None),
        // Server order: the client prefers AES-256, the policy AES-128.
        (
            SecurityPolicy::Tls12Only,
            vec![
                "-tls1_2",
                "-cipher",
                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
            ],
            &ca,
            Some("ECDHE-RSA-AES128-GCM-SHA256"),
        ),
        // Listed by AWS, not servable by rustls: CBC.
        (
            SecurityPolicy::Tls13And12,
            vec!["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"],
            &ca,
            None,
        ),
        (
            SecurityPolicy::Tls12Of2016,
            vec!["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
            &ca,
            Some("ECDHE-RSA-AES256-GCM-SHA384"),
        ),
        (SecurityPolicy::Tls12Of2016, vec!["-tls1_3"], &ca, None),
        (
            SecurityPolicy::Tls12Of2015,
            vec!["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"],
            &ecc,
            Some("ECDHE-ECDSA-AES256-GCM-SHA384"),
        ),
        (
            SecurityPolicy::Tls13GovCloud,
            vec!["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            &ca,
            None,
        ),
        (
            SecurityPolicy::Tls13GovCloud,
            vec!["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"],
            &ca,
            Some("TLS_AES_256_GCM_SHA384"),
        ),
        (
            SecurityPolicy::Tls13And12,
            vec!["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            &ca,
            Some("TLS_CHACHA20_POLY1305_SHA256"),
        ),
    ];
    for (policy, args, root, want) in cases {
        let ep = endpoint(|c| c.settings.security_policy = policy).await;
        let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
        let out = s_client(port, &host, root, &args).await;
        assert_eq!(
            cipher(&out).as_deref(),
            want,
            "{} {args:?}:\n{out}",
            policy.name()
        );
    }
}

#[test]
fn serve_lists_the_security_policies() {
    let out = crate::common::bin()
        .args(["serve", "--security-policy", "list"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    for p in SecurityPolicy::ALL {
        assert!(text.contains(p.name()), "{} missing:\n{text}", p.name());
    }
    assert!(text.contains("IoTSecurityPolicy_TLS13_1_2_2022_10 (default)"));
    assert!(text.contains("not servable by rustls"));
    assert!(text.contains("DHE-RSA-AES256-SHA"), "{text}");
}

/// The leaf's issuer CN for each of `n` connections.
async fn issuers(port: u16, root: &std::path::Path, args: &[&str], n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let text = s_client(port, &ats_host("us-east-1"), root, args).await;
        assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        let issuer = text
            .lines()
            .find(|l| l.trim_start().starts_with("i:") || l.contains(" i:"))
            .unwrap_or_default()
            .to_string();
        out.push(issuer);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_and_cross_certificate_switches() {
    if !have("openssl") {
        return;
    }
    let dir = common::pki_files();
    let rsa = dir.path().join("ats-rsa-root.pem");
    let ecc = dir.path().join("ats-ecc-root.pem");
    // Equal weights: across 16 connections every intermediate shows up.
    let ep = endpoint(|c| c.settings.rotation.weights = [1.0, 1.0, 1.0, 1.0]).await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    for (root, args, family) in [
        (&rsa, &[][..], "Amazon RSA 2048 M0"),
        (
            &ecc,
            &["-sigalgs", "ECDSA+SHA256"][..],
            "Amazon ECDSA 256 M0",
        ),
    ] {
        let seen: BTreeSet<String> = issuers(port, root, args, 16)
            .await
            .iter()
            .filter_map(|l| {
                l.find(family)
                    .map(|i| l[i..i + family.len() + 1].to_string())
            })
            .collect();
        assert_eq!(seen.len(), 4, "{family}: {seen:?}");
    }
    // A scheduled rotation: M01 until the switch, then only M03.
    let ep = endpoint(|c| {
        c.settings.rotation.switch_after_s = Some(1.0);
        c.settings.rotation.switch_to = 3;
    })
    .await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    let before = issuers(port, &rsa, &[], 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let after = issuers(port, &rsa, &[], 2).await;
    assert!(before[0].contains("M01"), "{before:?}");
    assert!(after.iter().all(|l| l.contains("M03")), "{after:?}");
    // Chain length: without the Starfield cross-certificate 2, as AWS
    // serves it 3, with the Class 2 cross-certificate too 4.
    let depth = |text: &str| {
        text.lines()
            .filter(|l| {
                l.trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains(" s:")
            })
            .count()
    };
    for (no_cross, class2, want) in [(true, false, 2), (false, false, 3), (false, true, 4)] {
        let ep = endpoint(|c| {
            c.settings.rotation.starfield_cross = !no_cross;
            c.settings.rotation.class2_cross = class2;
        })
        .await;
        let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
        let text = s_client(port, &ats_host("us-east-1"), &rsa, &[]).await;
        assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        assert_eq!(depth(&text), want, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_fragment_length_is_ignored_and_counted() {
    if !have("openssl") {
        return;
    }
    let dir = common::pki_files();
    let ep = endpoint(|_| {}).await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    let rsa = dir.path().join("ats-rsa-root.pem");
    for args in [
        &["-tls1_2", "-maxfraglen", "512"][..],
        &["-maxfraglen", "1024"][..],
        &[][..],
    ] {
        let out = s_client(port, &ats_host("us-east-1"), &rsa, args).await;
        assert!(
            out.contains("Verify return code: 0 (ok)"),
            "{args:?}: {out}"
        );
        // No MFL in the server's answer: full-size records.
        assert!(!out.contains("Max Fragment Length"), "{out}");
    }
    assert_eq!(ep.counters().mfl_offered.load(Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_sni_and_port_443_without_alpn() {
    if !have("openssl") {
        return;
    }
    let dir = common::pki_files();
    let rsa = dir.path().join("ats-rsa-root.pem");
    // Missing SNI: refused by default (mqtt.html: "connection attempts that
    // don't include SNI are refused"); served the ATS chain when allowed.
    let ep = endpoint(|_| {}).await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    let out = s_client(port, "", &rsa, &[]).await;
    assert!(cipher(&out).is_none(), "{out}");
    let ep = endpoint(|c| c.require_sni = false).await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    let out = s_client(port, "", &rsa, &[]).await;
    assert!(out.contains("Amazon RSA 2048 M01"), "{out}");
    // Port 443 semantics without x-amzn-mqtt-ca: the handshake completes,
    // then a CONNECT gets no answer (AWS treats it as HTTPS); with the ALPN
    // a CONNACK comes back.
    let ep = endpoint(|_| {}).await;
    let port = ep.addr(ListenerMode::MqttAlpn).unwrap().port();
    let script = format!(
        r#"
import socket, ssl, time
ctx = ssl.create_default_context(cafile={ca:?})
def attempt(alpn):
    if alpn:
        ctx.set_alpn_protocols(["x-amzn-mqtt-ca"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {port})), server_hostname={host:?})
    s.sendall(bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 1]) + b"x")
    s.settimeout(2)
    try:
        got = s.recv(4)
    except socket.timeout:
        got = "timeout"
    return got
print(attempt(False), attempt(True))
"#,
        ca = rsa.display().to_string(),
        host = ats_host("us-east-1"),
    );
    let out = tokio::task::spawn_blocking(move || common::python(&script))
        .await
        .unwrap();
    assert_eq!(out.trim(), r"timeout b' \x02\x00\x00'", "{out}");
    assert_eq!(ep.counters().alpn_rejected.load(Relaxed), 1);
}

/// rustls offers the X25519MLKEM768 hybrid first by default; the endpoint,
/// like every AWS IoT policy, does not take it, so X25519 is negotiated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_post_quantum_hybrid() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let o = common::client::Opts {
        roots: vec![pki().cert(chainstorm::pki::Role::AtsRsaRoot).clone()],
        ..common::client::Opts::default()
    };
    let cfg = common::client::client_config(&o);
    let offered: Vec<_> = cfg
        .crypto_provider()
        .kx_groups
        .iter()
        .map(|g| g.name())
        .collect();
    assert!(
        offered.contains(&rustls::NamedGroup::X25519MLKEM768),
        "{offered:?}"
    );
    let tls = common::client::tls(addr, &ats_host("us-east-1"), &o)
        .await
        .unwrap();
    let group = tls
        .get_ref()
        .1
        .negotiated_key_exchange_group()
        .map(|g| g.name());
    assert_eq!(group, Some(rustls::NamedGroup::X25519));
}
