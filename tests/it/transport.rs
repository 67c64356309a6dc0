//! The transport's own record layer (after `TlsStream::shed`) against
//! OpenSSL: `openssl s_server -rev` reverses each line it reads, so every
//! record either way is produced or checked by OpenSSL. TLS 1.3 with its
//! three suites (s_server also sends two NewSessionTickets after the
//! handshake, which the shed layer must skip) and TLS 1.2 with the AEAD
//! suites; the endpoint's ATS RSA chain, verified by chainstorm's verifier.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chainstorm::client::ClientOptions;
use chainstorm::transport::ClientTls;
use chainstorm::trust::{ChainVerifier, TimedVerifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::common::{self, ats_name, free_port, pki_files, profile};

async fn reversed_after_shed(version: &str, suite_flag: &str, suite: &str) {
    let pki = pki_files();
    let port = free_port();
    let _server = Command::new("openssl")
        .args(["s_server", "-rev", "-quiet", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(pki.path().join("ats-rsa-leaf.pem"))
        .arg("-key")
        .arg(pki.path().join("ats-rsa-leaf.key"))
        .arg("-cert_chain")
        .arg(pki.path().join("ats-rsa-intermediate.pem"))
        .args([version, suite_flag, suite])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_server starts");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(common::wait_listening(addr).await, "s_server listens");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let verifier = TimedVerifier::new(Arc::new(ChainVerifier::new(profile("ats-rsa-only"))));
    let config = ClientOptions::default()
        .build(Arc::new(verifier))
        .expect("client config");
    let mut c = ClientTls::connect(Arc::new(config), ats_name(), tcp)
        .await
        .unwrap_or_else(|e| panic!("{version} {suite}: handshake: {e}"));
    let negotiated = c
        .common()
        .and_then(|s| s.negotiated_cipher_suite())
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    c.shed()
        .unwrap_or_else(|e| panic!("{version} {suite}: shed: {e}"));
    // s_server -rev reverses what one read returns, so a line stays under
    // its 16 KiB buffer; the long one still spans several TCP segments.
    let long: String = (0..12_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    for line in ["hello", long.as_str()] {
        c.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        let mut back = vec![0u8; line.len() + 1];
        tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut back))
            .await
            .unwrap_or_else(|_| panic!("{version} {suite}: no answer"))
            .unwrap_or_else(|e| panic!("{version} {suite}: read: {e}"));
        let want: String = line.chars().rev().collect();
        assert!(
            &back[..line.len()] == want.as_bytes(),
            "{version} {suite} ({negotiated}): {} bytes did not come back reversed",
            line.len()
        );
    }
    c.shutdown().await.unwrap();
}

#[tokio::test]
async fn shed_record_layer_talks_to_openssl_tls13() {
    for suite in [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    ] {
        reversed_after_shed("-tls1_3", "-ciphersuites", suite).await;
    }
}

#[tokio::test]
async fn shed_record_layer_talks_to_openssl_tls12() {
    for suite in [
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ] {
        reversed_after_shed("-tls1_2", "-cipher", suite).await;
    }
}
