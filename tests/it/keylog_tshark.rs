//! SSLKEYLOGFILE: a probe's TLS session keys let tshark decrypt a captured
//! handshake and read the MQTT CONNECT inside; without the key log it
//! cannot. The capture is on loopback only. Skipped without tshark outside
//! CI (needs root to capture; CI runs as root).

use crate::common;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A capture of one `probe` against `serve` on `addr` (loopback): the
/// temporary directory (PKI in `pki/`, capture in `cap.pcapng`, key log in
/// `keys.txt`) and the probe's output.
fn capture(
    addr: &str,
    serve_extra: &[&str],
    probe_extra: &[&str],
) -> (tempfile::TempDir, std::process::Output) {
    let bin = env!("CARGO_BIN_EXE_chainstorm");
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    assert!(Command::new(bin)
        .args(["pki", "init", "--out", pki.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
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
        .args(serve_extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cap = dir.path().join("cap.pcapng");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let mut tshark = Command::new("tshark")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("host {host} and tcp port {port}"),
            "-w",
        ])
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
    let out = Command::new(bin)
        .args([
            "probe",
            addr,
            "--sni",
            "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
            "--pki",
            pki.to_str().unwrap(),
        ])
        .args(probe_extra)
        .env("SSLKEYLOGFILE", dir.path().join("keys.txt"))
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let _ = Command::new("kill")
        .args(["-INT", &tshark.id().to_string()])
        .status();
    let _ = tshark.wait();
    let _ = serve.kill();
    let _ = serve.wait();
    (dir, out)
}

#[test]
fn tshark_decrypts_a_capture_with_the_key_log() {
    if !common::have("tshark") {
        return;
    }
    // Port 8883 on a loopback address of its own: Wireshark dissects MQTT
    // over TLS on 8883 by default.
    let (dir, out) = capture(
        "127.0.0.77:8883",
        &[],
        &[
            "--profiles",
            "ats-rsa-only",
            "--mqtt",
            "311",
            "--client-id",
            "keylog-device-7",
        ],
    );
    common::assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" ok "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let keys = dir.path().join("keys.txt");
    let cap = dir.path().join("cap.pcapng");
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

/// The Certificate message size a device buffer is compared with is the
/// one on the wire: tshark's handshake length of the server's TLS 1.2
/// Certificate message (plaintext in 1.2) plus its 4-byte header equals
/// `pki show`'s figure, and the ESP32 model's failure names that number.
#[test]
fn certificate_message_size_matches_the_wire() {
    if !common::have("tshark") {
        return;
    }
    let (dir, out) = capture(
        "127.0.0.78:8883",
        &["--class2-cross"],
        &["--profiles", "esp32-mbedtls-4k", "--json"],
    );
    let pki = chainstorm::pki::PkiBundle::load(&dir.path().join("pki")).unwrap();
    let ours = pki.certificate_message_len(
        chainstorm::pki::ChainKind::AtsRsaClass2,
        chainstorm::pki::CertMessageLayout::Tls12,
    );
    let read = Command::new("tshark")
        .arg("-r")
        .arg(dir.path().join("cap.pcapng"))
        .args([
            "-Y",
            "tls.handshake.type == 11",
            "-T",
            "fields",
            "-e",
            "tls.handshake.type",
            "-e",
            "tls.handshake.length",
        ])
        .output()
        .unwrap();
    // rustls sends the TLS 1.2 server flight (ServerHello, Certificate,
    // ServerKeyExchange, ServerHelloDone) in one record: pick the
    // Certificate message's length out of the frame's list.
    let text = String::from_utf8_lossy(&read.stdout);
    let (types, lens) = text
        .trim()
        .split_once('\t')
        .unwrap_or_else(|| panic!("no Certificate message: {read:?}"));
    let wire: usize = types
        .split(',')
        .zip(lens.split(','))
        .find(|(t, _)| *t == "11")
        .and_then(|(_, l)| l.parse().ok())
        .unwrap_or_else(|| panic!("no Certificate message: {text}"));
    assert_eq!(wire + 4, ours, "tshark's handshake length + header");
    let text = String::from_utf8_lossy(&out.stdout);
    let grouped = format!("{},{:03}", ours / 1000, ours % 1000);
    assert!(
        text.contains(&format!(
            "record_exceeds_device_buffer(certificate {grouped} B > 4,096 B)"
        )),
        "{text}"
    );
}
