//! The engine against a real MQTT broker: Debian's mosquitto, started by the
//! test with a TLS listener serving the mock PKI's ATS RSA chain. MQTT 3.1.1
//! and 5 devices connect. Skipped without mosquitto outside CI.

use crate::common;

use std::process::{Child, Command, Stdio};

use chainstorm::engine::Control;
use chainstorm::runner::{self, RunOptions};

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mosquitto() -> Option<String> {
    for p in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if std::path::Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    crate::common::missing("mosquitto");
    None
}

#[test]
fn mqtt_311_and_5_devices_connect_to_mosquitto() {
    let Some(bin) = mosquitto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    common::pki().write_to(&pki).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nuser root\nallow_anonymous true\ncertfile {pki}/ats-rsa-chain.pem\nkeyfile {pki}/ats-rsa-leaf.key\nmax_connections -1\n",
            pki = pki.display()
        ),
    )
    .unwrap();
    // Our key files are 0600; mosquitto drops to its own user when started
    // as root unless told to stay (`user root`), and could not read them.
    let _broker = Broker(
        Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts"),
    );
    assert!(
        crate::common::wait_port(port),
        "mosquitto did not listen on {port}"
    );
    let scenario = format!(
        r#"
[run]
name = "mosquitto"
duration_s = 3
[target]
kind = "external"
addresses = ["127.0.0.1:{port}"]
pki = "{pki}"
[[fleet]]
name = "v311"
devices = 30
profile = "ats-rsa-only"
protocol = "mqtt311"
endpoint = "ats"
hold_s = 1
publish_per_s = 2
[[fleet]]
name = "v5"
devices = 30
profile = "starfield-only"
protocol = "mqtt5"
endpoint = "ats"
hold_s = 1
[arrival]
mode = "rate"
start_rate = 40
stages = [{{ to_rate = 40, over_s = 2 }}]
"#,
        pki = pki.display()
    );
    let path = dir.path().join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    let opts = RunOptions {
        output_dir: Some(dir.path().join("results")),
        ..RunOptions::default()
    };
    let s = runner::prepare(&path, &opts).unwrap();
    let o = runner::run_scenario(s, opts, Control::new(), |_| {}).unwrap();
    let t = &o.summary.totals;
    assert!(o.summary.failures.is_empty(), "{:?}", o.summary.failures);
    assert_eq!(t.succeeded, 60, "{t:?}");
    let v5: u64 = o
        .summary
        .keys
        .iter()
        .filter(|k| k.group == "v5" && k.phase == chainstorm::metrics::Phase::MqttConnack)
        .map(|k| k.stats.count)
        .sum();
    assert_eq!(
        v5,
        30,
        "{:?}",
        o.summary
            .keys
            .iter()
            .filter(|k| k.group == "v5")
            .collect::<Vec<_>>()
    );
}
