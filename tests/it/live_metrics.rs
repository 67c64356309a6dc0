//! Live metrics: `run --metrics-listen` and `serve --metrics-listen` expose
//! Prometheus text that `promtool check metrics` accepts and Python's
//! `prometheus_client` parser reads, with the counters, gauges and
//! histograms a dashboard needs.

use crate::common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::free_port;

/// GET /metrics, the body (retried until the server listens).
fn scrape(port: u16) -> String {
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut r = String::new();
            s.read_to_string(&mut r).unwrap();
            assert!(r.starts_with("HTTP/1.1 200"), "{r}");
            return r.split_once("\r\n\r\n").unwrap().1.to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {port}");
}

/// `promtool check metrics` (Debian `prometheus`) accepts the page:
/// format and naming conventions (`_total` counters, base units).
fn promtool_accepts(text: &str) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (.ci/run installs Debian prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    common::assert_ok(&out);
}

/// The families and samples as `prometheus_client` parses them:
/// `name type` lines, then `sample{labels} value` lines.
fn parse(text: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("metrics.txt");
    std::fs::write(&p, text).unwrap();
    common::python(&format!(
        r#"
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open({p:?}).read()):
    print("FAMILY", f.name, f.type)
    for s in f.samples:
        labels = ",".join(f"{{k}}={{v}}" for k, v in sorted(s.labels.items()))
        print("SAMPLE", s.name, labels, s.value)
"#,
        p = p.display().to_string()
    ))
}

#[test]
fn a_run_exposes_counters_gauges_and_histograms() {
    let s = common::EmbeddedScenario::new(
        "live",
        "duration_s = 6",
        "[[fleet]]\nname = \"ok\"\ndevices = 200\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
         [[fleet]]\nname = \"stuck\"\ndevices = 100\nprofile = \"legacy-only\"\nendpoint = \"ats\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 50\nstages = [{ to_rate = 50, over_s = 6 }]",
    );
    let scenario = &s.scenario;
    let port = free_port();
    let mut child = crate::common::bin()
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--no-tui"])
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .args(["--shard", "0/1", "--run-id", "live-1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let text = scrape(port);
    let _ = child.wait();
    promtool_accepts(&text);
    let parsed = parse(&text);
    for f in [
        "FAMILY chainstorm_attempts counter",
        "FAMILY chainstorm_failures counter",
        "FAMILY chainstorm_connected gauge",
        "FAMILY chainstorm_latency_seconds histogram",
    ] {
        assert!(parsed.contains(f), "{f} missing:\n{parsed}");
    }
    let samples: Vec<(String, String, f64)> = parsed
        .lines()
        .filter_map(|l| l.strip_prefix("SAMPLE "))
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let name = it.next().unwrap().to_string();
            let labels = it.next().unwrap().to_string();
            let v: f64 = it.next().unwrap().parse().unwrap();
            (name, labels, v)
        })
        .collect();
    let value = |name: &str, has: &str| {
        samples
            .iter()
            .filter(|(n, l, _)| n == name && l.contains(has))
            .map(|s| s.2)
            .sum::<f64>()
    };
    assert!(value("chainstorm_attempts_total", "run_id=live-1") > 50.0);
    assert!(value("chainstorm_failures_total", "cause=unknown_issuer") > 0.0);
    // Each histogram: cumulative buckets, +Inf equal to the count.
    let series = "endpoint=ats-rsa,group=ok,le=";
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == "chainstorm_latency_seconds_bucket"
                && l.contains("phase=connect_total")
                && l.contains(series)
        })
        .map(|s| s.2)
        .collect();
    assert_eq!(buckets.len(), 17, "16 bounds and +Inf");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    let count = value(
        "chainstorm_latency_seconds_count",
        "endpoint=ats-rsa,group=ok,phase=connect_total",
    );
    assert_eq!(*buckets.last().unwrap(), count);
    assert!(count > 0.0);
}

#[test]
fn serve_exposes_its_counters() {
    let d = tempfile::tempdir().unwrap();
    let pki = d.path().join("pki");
    common::pki().write_to(&pki).unwrap();
    let (port, mport) = (free_port(), free_port());
    let mut serve = crate::common::bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--pki", pki.to_str().unwrap(), "--duration-s", "20"])
        .args(["--metrics-listen", &format!("127.0.0.1:{mport}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(common::wait_port(port));
    for _ in 0..3 {
        let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let text = scrape(mport);
    promtool_accepts(&text);
    let parsed = parse(&text);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        parsed.contains("FAMILY chainstorm_endpoint_accepted counter"),
        "{parsed}"
    );
    assert!(
        parsed.contains("FAMILY chainstorm_endpoint_sessions_open gauge"),
        "{parsed}"
    );
    let accepted: f64 = parsed
        .lines()
        .find(|l| l.starts_with("SAMPLE chainstorm_endpoint_accepted_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(accepted >= 3.0, "{parsed}");
}
