//! SSLKEYLOGFILE: a probe's TLS session keys let tshark decrypt a captured
//! handshake and read the MQTT CONNECT inside; without the key log it
//! cannot. The capture is on loopback only. Skipped without tshark outside
//! CI (needs root to capture; CI runs as root).

use crate::common;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have_tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is required under CI"
        );
        eprintln!("skipping: tshark not installed");
    }
    ok
}

#[test]
fn tshark_decrypts_a_capture_with_the_key_log() {
    if !have_tshark() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_chainstorm");
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    assert!(Command::new(bin)
        .args(["pki", "init", "--out", pki.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    // Port 8883 on a loopback address of its own: Wireshark dissects MQTT
    // over TLS on 8883 by default.
    let addr = "127.0.0.77:8883";
    let mut serve = Command::new(bin)
        .args([
            "serve",
            "--pki",
            pki.to_str().unwrap(),
            "--listen",
            addr,
            "--duration-s",
            "30",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cap = dir.path().join("cap.pcapng");
    let mut tshark = Command::new("tshark")
        .args(["-i", "lo", "-f", "host 127.0.0.77 and tcp port 8883", "-w"])
        .arg(&cap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the endpoint listens and tshark has started writing.
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(addr).is_err() || !cap.exists() {
        assert!(Instant::now() < deadline, "serve or tshark did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(800));
    let keys = dir.path().join("keys.txt");
    let out = Command::new(bin)
        .args([
            "probe",
            addr,
            "--sni",
            "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
            "--profiles",
            "ats-rsa-only",
            "--mqtt",
            "311",
            "--client-id",
            "keylog-device-7",
            "--pki",
            pki.to_str().unwrap(),
        ])
        .env("SSLKEYLOGFILE", &keys)
        .output()
        .unwrap();
    common::assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" ok "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(Duration::from_millis(800));
    let _ = Command::new("kill")
        .args(["-INT", &tshark.id().to_string()])
        .status();
    let _ = tshark.wait();
    let _ = serve.kill();
    let _ = serve.wait();
    let log = std::fs::read_to_string(&keys).unwrap();
    assert!(
        log.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET") && log.contains("CLIENT_TRAFFIC_SECRET_0"),
        "{log}"
    );
    let read = |extra: &[&str]| {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&cap)
            .args(extra)
            .args([
                "-Y",
                "mqtt.msgtype == 1",
                "-T",
                "fields",
                "-e",
                "mqtt.clientid",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let keylog_opt = format!("tls.keylog_file:{}", keys.display());
    assert_eq!(
        read(&["-o", &keylog_opt]),
        "keylog-device-7",
        "decrypted CONNECT"
    );
    assert_eq!(read(&[]), "", "without the key log nothing is readable");
}
