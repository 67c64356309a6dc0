//! `scenarios/device-zoo.toml` end to end: a fleet of device models against
//! the embedded endpoint rotating its intermediates. The summary (and the
//! report built from it) must say, per model, who connected and, for the
//! rest, the cause in the words the device's own library would log.

use chainstorm::results::Summary;

use super::common::{assert_ok, first_entry};

#[test]
fn each_model_fails_for_its_own_reason() {
    let out_dir = tempfile::tempdir().unwrap();
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/device-zoo.toml");
    let out = crate::common::bin()
        .arg("run")
        .arg(&scenario)
        .args(["--no-tui", "--quiet", "--output"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let dir = first_entry(out_dir.path());
    let s = Summary::read(&dir).unwrap();
    let model = |g: &str| {
        s.models
            .iter()
            .find(|m| m.group == g)
            .unwrap_or_else(|| panic!("no model row for {g}"))
    };
    let causes = |g: &str| -> Vec<String> {
        model(g)
            .causes
            .iter()
            .map(|c| c.cause.qualified())
            .collect()
    };
    // Stacks that find a path whatever the rotation serves: all 40 connect.
    for g in [
        "rustls",
        "openssl-3",
        "go",
        "jdk-17",
        "gnutls",
        "wolfssl",
        "openssl-1.0.2",
        "freertos-mbedtls",
    ] {
        let m = model(g);
        assert_eq!((m.connected, m.failed), (40, 0), "{g}: {:?}", m.causes);
    }
    // Server's chain first, no retry: every RSA chain carries a cross-sign.
    for g in ["openssl-1.0.2-legacy", "wolfssl-strict"] {
        assert_eq!(model(g).connected, 0, "{g}");
        assert_eq!(
            causes(g),
            ["verify/unknown_issuer(via cross-sign, no alternative chains)"],
            "{g}"
        );
    }
    // 4 KiB input buffer: only the M01 chain with both cross-certificates
    // (about 4.8 KB) is too big; M02-M04's chains fit.
    let esp = model("esp32-mbedtls-4k");
    assert!(esp.connected > 0 && esp.failed > 0, "{:?}", esp.causes);
    assert_eq!(esp.causes.len(), 1);
    let c = &esp.causes[0].cause.qualified();
    assert!(
        c.starts_with("tls/record_exceeds_device_buffer(certificate 4,7")
            && c.ends_with(" B > 4,096 B)"),
        "{c}"
    );
    // No clock: nothing is valid yet (or the buffer fails first).
    let rtc = model("esp32-no-rtc");
    assert_eq!(rtc.connected, 0);
    assert!(causes("esp32-no-rtc")
        .contains(&"verify/not_yet_valid(device clock 1970-01-01)".to_string()));
    assert!(causes("esp32-no-rtc")
        .iter()
        .all(|c| c == "verify/not_yet_valid(device clock 1970-01-01)"
            || c.starts_with("tls/record_exceeds_device_buffer(")));
    // Pinning M01 breaks on the connections M02-M04 serve.
    let pin = model("pinned-m01");
    assert!(pin.connected > 0 && pin.failed > 0);
    assert_eq!(causes("pinned-m01"), ["verify/pin_mismatch(intermediate)"]);
    // Composed models.
    assert_eq!(model("ecc-stack-on-legacy").model, "freertos-mbedtls+parts");
    assert_eq!(
        causes("ecc-stack-on-legacy"),
        ["tls/no_shared_cipher_suite"]
    );
    let ahead = causes("clock-ahead");
    assert_eq!(ahead.len(), 1);
    assert!(
        ahead[0].starts_with("verify/expired(device clock 20"),
        "{ahead:?}"
    );
    // The report carries the same table.
    let rep = crate::common::bin()
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert_ok(&rep);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<h2>Device models</h2>"));
    assert!(html.contains("pin_mismatch(intermediate)"));
    assert!(String::from_utf8_lossy(&rep.stdout).contains("per device model"));
}
