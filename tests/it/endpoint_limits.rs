//! The endpoint under bad conditions: alerts it sends are counted, a port
//! is never shared by accident, and `accept` failures (out of descriptors)
//! back off instead of spinning, with clients recovering once descriptors
//! are free.

use crate::common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use chainstorm::endpoint::{ListenerMode, MtlsMode};
use chainstorm::pki::Role;
use common::client::{tls, Opts};
use common::{ats_host, endpoint, pki};

use crate::common::bin;

use common::free_port;

/// A handshake rustls refuses on the server side (mTLS required, no client
/// certificate) is counted in `alerts_sent` with the alert rustls sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_the_endpoint_sends_are_counted() {
    let ep = endpoint(|c| c.settings.mtls = MtlsMode::Required).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let o = Opts {
        roots: vec![pki().cert(Role::AtsRsaRoot).clone()],
        ..Opts::default()
    };
    for _ in 0..3 {
        // TLS 1.3: the client's handshake completes before the server reads
        // its empty Certificate; a read then shows the alert.
        if let Ok(mut s) = tls(addr, &ats_host("us-east-1"), &o).await {
            use tokio::io::AsyncReadExt;
            let mut b = [0u8; 16];
            let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await;
        }
    }
    let c = ep.counters();
    assert!(
        common::eventually(|| c.snapshot().alerts_sent.get("CertificateRequired") == Some(&3))
            .await,
        "{:?}",
        c.snapshot().alerts_sent
    );
}

/// Two `serve` processes on one port: the second fails unless both ask
/// for `--reuse-port`.
#[test]
fn a_port_is_shared_only_when_asked() {
    let d = tempfile::tempdir().unwrap();
    let pki_dir = d.path().join("pki");
    pki().write_to(&pki_dir).unwrap();
    let port = free_port();
    let serve = |extra: &[&str]| {
        let mut c = bin();
        c.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--pki", pki_dir.to_str().unwrap(), "--duration-s", "30"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let mut first = serve(&[]).spawn().unwrap();
    assert!(common::wait_port(port));
    let second = serve(&[]).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    let _ = first.kill();
    let _ = first.wait();

    let port2 = free_port();
    let serve2 = |extra: &[&str]| {
        let mut c = bin();
        c.args(["serve", "--listen", &format!("127.0.0.1:{port2}")])
            .args(["--pki", pki_dir.to_str().unwrap(), "--duration-s", "30"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let mut a = serve2(&["--reuse-port"]).spawn().unwrap();
    assert!(common::wait_port(port2));
    let mut b = serve2(&["--reuse-port"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        b.try_wait().unwrap().is_none(),
        "the second sharing endpoint runs"
    );
    for p in [&mut a, &mut b] {
        let _ = p.kill();
        let _ = p.wait();
    }
}

/// With a low descriptor limit, accept fails (EMFILE) while clients hold
/// every descriptor: the endpoint counts the failures and backs off (tens
/// per second at most, not millions), and a client connects again once the
/// held connections close.
#[test]
fn accept_errors_back_off_and_clients_recover() {
    let d = tempfile::tempdir().unwrap();
    let pki_dir = d.path().join("pki");
    pki().write_to(&pki_dir).unwrap();
    let port = free_port();
    // `ulimit -n` sets the soft and hard limits, so serve cannot raise them.
    let mut serve = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec {} serve --listen 127.0.0.1:{port} --pki {} --duration-s 20 --interval-s 0.5",
            env!("CARGO_BIN_EXE_chainstorm"),
            pki_dir.display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(common::wait_port(port));
    // Hold more connections than the endpoint has descriptors for.
    let held: Vec<_> = (0..100)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(held.len() >= 60, "{} connected", held.len());
    std::thread::sleep(Duration::from_secs(2));
    drop(held);
    std::thread::sleep(Duration::from_millis(1_500));
    // Recovered: a real client handshakes and gets CONNACK.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ok = rt.block_on(async {
        let o = Opts {
            roots: vec![pki().cert(Role::AtsRsaRoot).clone()],
            ..Opts::default()
        };
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let s = tls(addr, &ats_host("us-east-1"), &o).await.ok()?;
        let mut m = common::client::Mqtt::new(s, chainstorm::mqtt::Protocol::V311);
        m.connect(chainstorm::mqtt::Connect::new(
            chainstorm::mqtt::Protocol::V311,
            "after-emfile",
            60,
        ))
        .await
    });
    assert_eq!(
        ok.map(|a| a.code),
        Some(0),
        "a client connects after the descriptors free up"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let mut out = String::new();
    serve
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = serve.wait();
    let v: serde_json::Value = serde_json::from_str(&out).expect("final counters as JSON");
    let errors = v["accept_errors"].as_u64().unwrap();
    eprintln!("accept errors while descriptors ran out: {errors}");
    // ~2 s of EMFILE: with the backoff (10 ms doubling to 1 s) a handful of
    // retries; a spinning loop makes hundreds of thousands.
    assert!((1..=200).contains(&errors), "accept_errors = {errors}");
}
