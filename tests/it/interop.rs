//! Interop with peers no one here wrote: `openssl s_client` against the
//! endpoint's SNI routing, and Debian's `mosquitto_pub` / `mosquitto_sub`
//! publishing and receiving through it over MQTT 3.1.1 and 5 with mutual TLS.
//!
//! `scripts/test.sh` and `.ci/run` install the packages. When a peer binary
//! is missing the test fails under CI (CI=true) and is skipped elsewhere.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chainstorm::endpoint::{ListenerMode, MtlsMode};
use chainstorm::fuzzer::campaign::FindingKind;
use common::{ats_host, endpoint, have, legacy_host, pki};
use tokio::process::Command;

pub(crate) async fn s_client(port: u16, sni: &str, cafile: &Path, extra: &[&str]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")]);
    // An empty name: no SNI at all.
    if sni.is_empty() {
        cmd.arg("-noservername");
    } else {
        cmd.args(["-servername", sni]);
    }
    cmd.arg("-CAfile")
        .arg(cafile)
        .args(["-showcerts", "-verify_return_error"])
        .args(extra)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("s_client finishes")
        .expect("s_client runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_sees_the_aws_chains() {
    if !have("openssl") {
        return;
    }
    let dir = common::pki_files();
    let ep = endpoint(|_| {}).await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    let ca = |n: &str| dir.path().join(n);

    let out = s_client(port, &legacy_host("us-east-1"), &ca("legacy-root.pem"), &[]).await;
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(
        out.contains("Symantec Class 3 Secure Server CA - G4"),
        "{out}"
    );

    let out = s_client(port, &ats_host("eu-west-1"), &ca("ats-rsa-root.pem"), &[]).await;
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(
        out.contains("CN = Amazon RSA 2048 M01") || out.contains("CN=Amazon RSA 2048 M01"),
        "{out}"
    );
    assert!(
        out.contains("Starfield Services Root Certificate Authority - G2"),
        "cross-sign sent:\n{out}"
    );

    let out = s_client(
        port,
        &ats_host("ap-south-1"),
        &ca("starfield-root.pem"),
        &[],
    )
    .await;
    assert!(
        out.contains("Verify return code: 0 (ok)"),
        "Starfield-only store validates:\n{out}"
    );
    assert!(out.contains("Amazon RSA 2048 M01"), "{out}");

    // The ATS chain follows what the client can complete: ECDSA-only
    // signature schemes; TLS 1.2 with only ECDHE-ECDSA suites (mbedTLS ECC
    // builds) but the default schemes (RSA among them), where the suites
    // decide; and TLS 1.2 with only ECDHE-RSA suites.
    for (root, args, intermediate) in [
        (
            "ats-ecc-root.pem",
            &["-sigalgs", "ECDSA+SHA256"][..],
            "Amazon ECDSA 256 M01",
        ),
        (
            "ats-ecc-root.pem",
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
            "Amazon ECDSA 256 M01",
        ),
        (
            "ats-rsa-root.pem",
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
            "Amazon RSA 2048 M01",
        ),
    ] {
        let out = s_client(port, &ats_host("us-east-1"), &ca(root), args).await;
        assert!(
            out.contains("Verify return code: 0 (ok)"),
            "{args:?}: {out}"
        );
        assert!(out.contains(intermediate), "{args:?}: {out}");
    }

    let out = s_client(
        port,
        &legacy_host("ap-south-1"),
        &ca("legacy-root.pem"),
        &[],
    )
    .await;
    assert!(
        out.contains("unrecognized name") || out.contains("alert number 112"),
        "{out}"
    );
    // (openssl prints "Verify return code: 0" even with no certificate at all.)
    assert!(out.contains("no peer certificate available"), "{out}");
}

fn write_pem(path: &Path, label: &str, der: &[u8]) {
    std::fs::write(path, pem::encode(&pem::Pem::new(label, der.to_vec()))).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_clients_publish_and_receive() {
    if !have("mosquitto_pub") || !have("mosquitto_sub") {
        return;
    }
    let dir = common::pki_files();
    // mosquitto's clients take the SNI from -h; pointed at 127.0.0.1 they
    // send none, so this endpoint accepts SNI-less hellos (routing them to
    // the ATS chain) and the clients skip only the host-name check
    // (--insecure); the chain is still verified against --cafile.
    let ep = endpoint(|c| {
        c.require_sni = false;
        c.settings.mtls = MtlsMode::Required;
    })
    .await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port().to_string();
    let ca = dir.path().join("ats-rsa-root.pem");
    for (version, tag) in [("mqttv311", "v311"), ("mqttv5", "v5")] {
        let mut files = Vec::new();
        for who in ["sub", "pub"] {
            let id = pki()
                .device_ca()
                .mint(&format!("mosq-{who}-{tag}"))
                .unwrap();
            let cert = dir.path().join(format!("{who}-{tag}.pem"));
            let key = dir.path().join(format!("{who}-{tag}.key"));
            write_pem(&cert, "CERTIFICATE", id.cert.as_ref());
            write_pem(&key, "PRIVATE KEY", id.key.secret_der());
            files.push((cert, key, id.client_id));
        }
        let topic = format!("fleet/{tag}/telemetry");
        let before = ep.counters().snapshot().sessions_open;
        // Both clients: loopback, this protocol version, QoS 1, the chain
        // checked against the ATS root, their own device certificate.
        let client = |tool: &str, (cert, key, id): &(PathBuf, PathBuf, String)| {
            let mut c = Command::new(tool);
            c.args(["-h", "127.0.0.1", "-p", &port, "--insecure", "-V", version])
                .args(["-q", "1", "-i", id])
                .arg("--cafile")
                .arg(&ca)
                .arg("--cert")
                .arg(cert)
                .arg("--key")
                .arg(key);
            c
        };
        let sub = client("mosquitto_sub", &files[0])
            .args(["-C", "1", "-W", "15", "-t", "fleet/+/telemetry"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("mosquitto_sub starts");
        // Wait until the subscriber's session is up before publishing.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while ep.counters().snapshot().sessions_open <= before
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pub_out = client("mosquitto_pub", &files[1])
            .args(["-t", &topic, "-m", &format!("hello-{tag}")])
            .output()
            .await
            .expect("mosquitto_pub runs");
        assert!(
            pub_out.status.success(),
            "{}: {}",
            tag,
            String::from_utf8_lossy(&pub_out.stderr)
        );
        let out = tokio::time::timeout(Duration::from_secs(20), sub.wait_with_output())
            .await
            .expect("mosquitto_sub exits")
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("hello-{tag}"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let snap = ep.counters().snapshot();
    assert!(snap.connacks.get(&0).copied().unwrap_or(0) >= 4, "{snap:?}");
    assert!(snap.publishes_out >= 2);
}

/// Differential fuzzing against OpenSSL: the same seeded cases to the
/// endpoint (rustls) and to `openssl s_server` with the same ATS RSA chain.
/// Valid ClientHellos must get a ServerHello from both; the rest is reported
/// as divergences (printed, with one example each under `divergent/`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_fuzzing_against_openssl_s_server() {
    use chainstorm::fuzzer::campaign::{self, Campaign};
    use chainstorm::pki::ChainKind;
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let chain = pki().chain(ChainKind::AtsRsa);
    write_pem(&dir.path().join("leaf.pem"), "CERTIFICATE", &chain.certs[0]);
    let mut rest = String::new();
    for c in &chain.certs[1..] {
        rest.push_str(&pem::encode(&pem::Pem::new("CERTIFICATE", c.to_vec())));
    }
    std::fs::write(dir.path().join("chain.pem"), rest).unwrap();
    write_pem(
        &dir.path().join("key.pem"),
        "PRIVATE KEY",
        chain.key.secret_der(),
    );
    // A free loopback port for s_server (it cannot report an ephemeral one).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-rev",
            "-quiet",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("-cert")
        .arg(dir.path().join("leaf.pem"))
        .arg("-cert_chain")
        .arg(dir.path().join("chain.pem"))
        .arg("-key")
        .arg(dir.path().join("key.pem"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("s_server starts");
    let openssl: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(common::wait_listening(openssl).await, "s_server listens");
    let ep = endpoint(|_| {}).await;
    let target = ep.addrs()[0].1;
    // s_server serves one connection at a time: one case in flight.
    let r = campaign::run(Campaign {
        target,
        sni: ats_host("us-east-1"),
        cases: 120,
        duration: Some(Duration::from_secs(60)),
        concurrency: 1,
        seed: 11,
        timeout: Duration::from_millis(500),
        health_every: 60,
        out: dir.path().join("fuzz"),
        mqtt: None,
        second: Some(openssl),
    })
    .await
    .unwrap();
    eprintln!(
        "divergences rustls endpoint vs openssl s_server: {:#?}",
        r.divergent
    );
    assert_eq!(r.cases, 120);
    assert!(
        r.findings.iter().all(|f| f.kind != FindingKind::TargetDown),
        "{:?}",
        r.findings
    );
    assert!(
        r.classes.get("valid|server_hello").copied().unwrap_or(0) > 0,
        "{:?}",
        r.classes
    );
    assert!(
        !r.divergent.keys().any(|k| k.starts_with("valid|")),
        "valid hellos diverge: {:?}",
        r.divergent
    );
    assert!(
        !r.divergent.is_empty(),
        "two TLS stacks that never disagree on malformed input: {:?}",
        r.classes
    );
    let _ = server.kill().await;
    ep.shutdown(Duration::from_secs(2)).await;
}
