//! Devices on emulated links: calibration against the model's own
//! arithmetic on medians of many attempts (never one timing), and the
//! scenario checks of `link` / `[fleet.link]`.

use std::path::Path;

use chainstorm::engine::Control;
use chainstorm::metrics::{EndpointKind, Figure, Phase};
use chainstorm::results::Summary;
use chainstorm::runner::{self, RunOptions};
use chainstorm::scenario;

use crate::common::EmbeddedScenario;

fn run(s: &EmbeddedScenario) -> Summary {
    let opts = RunOptions::default();
    let sc = runner::prepare(&s.scenario, &opts).unwrap();
    runner::run_scenario(sc, opts, Control::new(), |_| {})
        .unwrap()
        .summary
}

/// p50 of `phase` in `group`, ns (one endpoint kind per group here).
fn p50(s: &Summary, group: &str, phase: Phase) -> f64 {
    let k: Vec<_> = s
        .keys
        .iter()
        .filter(|k| k.group == group && k.phase == phase && k.anchor.is_none())
        .collect();
    assert_eq!(k.len(), 1, "{group} {phase}: {k:?}");
    k[0].stats.p50 as f64
}

fn wire<'a>(s: &'a Summary, group: &str) -> Vec<&'a chainstorm::results::WireStats> {
    s.wire.iter().filter(|w| w.group == group).collect()
}

/// One group on loopback and one on a 200 ms link, TLS 1.3 handshakes
/// only, the same server: the link adds one RTT to the TCP connect and one
/// to the handshake (ClientHello up, the server's flight down; unlimited
/// bandwidth, so no serialization). Medians of 150 attempts each, within 5 %.
#[test]
fn rtt_adds_one_round_trip_to_connect_and_handshake() {
    let group = |name: &str, link: &str| {
        format!(
            "[[fleet]]\nname = \"{name}\"\ndevices = 150\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"\ntls_versions = [\"1.3\"]\n{link}\n"
        )
    };
    let s = EmbeddedScenario::new(
        "rtt",
        "seed = 3\nduration_s = 4\ndrain_timeout_s = 20",
        &format!(
            "{}{}[arrival]\nmode = \"rate\"\nstart_rate = 100\nstages = [{{ to_rate = 100, over_s = 3 }}]\n",
            group("lo", ""),
            group("far", "[fleet.link]\nrtt_ms = 200")
        ),
    );
    let sum = run(&s);
    assert_eq!(sum.totals.failed, 0, "{:?}", sum.failures);
    let rtt = 200e6;
    for phase in [Phase::TcpConnect, Phase::TlsHandshake] {
        let (lo, far) = (p50(&sum, "lo", phase), p50(&sum, "far", phase));
        let want = lo + rtt;
        eprintln!("{phase:?} p50: loopback {lo:.0} ns, 200 ms link {far:.0} ns");
        assert!(
            (far - want).abs() <= 0.05 * want,
            "{phase:?} p50 {far:.0} ns, expected {want:.0} (loopback {lo:.0} + 200 ms) within 5 %"
        );
    }
    // TLS 1.3: ClientHello, the server's flight: two flights before the
    // handshake ends on the client, a third (its Finished) queued.
    let w = wire(&sum, "far");
    assert!(!w.is_empty());
    for x in w {
        assert_eq!(x.figure(Figure::TlsFlights).p50, 3, "{x:?}");
        assert!(x.figure(Figure::TlsBytesDown).p50 > 2_000, "{x:?}");
    }
}

/// At 20 kbit/s down the server's flight takes its wire bytes (payload
/// plus 52 B per 1,448 B segment) × 8 / 20,000 s: the handshake is at
/// least that (the Certificate message alone is most of it) and not more
/// than that plus the loopback handshake and a 10 % margin.
#[test]
fn downlink_bandwidth_serializes_the_server_flight() {
    let s = EmbeddedScenario::new(
        "bw",
        "seed = 4\nduration_s = 3\ndrain_timeout_s = 30",
        "[[fleet]]\nname = \"slow\"\ndevices = 20\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"\ntls_timeout_s = 60\n[fleet.link]\ndown_kbps = 20\n\
         [[fleet]]\nname = \"lo\"\ndevices = 20\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 20\nstages = [{ to_rate = 20, over_s = 2 }]\n",
    );
    let sum = run(&s);
    assert_eq!(sum.totals.failed, 0, "{:?}", sum.failures);
    let slow = wire(&sum, "slow");
    assert_eq!(slow.len(), 1, "one chain served: {slow:?}");
    let down = slow[0].figure(Figure::TlsBytesDown).p50 as f64;
    let segments = (down / 1448.0).ceil();
    let serial = (down + 52.0 * segments) * 8.0 / 20_000.0 * 1e9;
    let hs = p50(&sum, "slow", Phase::TlsHandshake);
    let lo = p50(&sum, "lo", Phase::TlsHandshake);
    eprintln!("20 kbit/s: server flight {down} B, serialization {serial:.0} ns, tls_handshake p50 {hs:.0} ns (loopback {lo:.0})");
    assert!(
        hs >= serial,
        "tls_handshake p50 {hs:.0} ns < {serial:.0} ns for {down} B"
    );
    assert!(
        hs <= (serial + lo) * 1.10,
        "tls_handshake p50 {hs:.0} ns > ({serial:.0} + loopback {lo:.0}) x 1.1"
    );
}

/// Loss 0.1 per segment: an attempt sees no retransmission only if none of
/// its segments up to the end of the handshake is lost: the SYN and the
/// SYN-ACK, the ClientHello (one segment) and the server's flight
/// (ceil(bytes / 1,448) segments, or more when it arrives in several
/// reads). So P(a retransmission) lies between 1 - 0.9^(3 + k) and
/// 1 - 0.9^(3 + k + 2); the measured share of 300 attempts must fall in
/// that band widened by 4 binomial standard deviations (about ± 0.11).
#[test]
fn loss_charges_retransmissions_at_the_modelled_rate() {
    let s = EmbeddedScenario::new(
        "loss",
        "seed = 5\nduration_s = 3\ndrain_timeout_s = 60",
        "[[fleet]]\nname = \"lossy\"\ndevices = 300\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"\ntls_versions = [\"1.3\"]\ndial_timeout_s = 120\ntls_timeout_s = 120\n[fleet.link]\nrtt_ms = 50\nloss = 0.1\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 150\nstages = [{ to_rate = 150, over_s = 2 }]\n",
    );
    let sum = run(&s);
    assert_eq!(sum.totals.failed, 0, "{:?}", sum.failures);
    let w = wire(&sum, "lossy");
    let n: u64 = w.iter().map(|x| x.connects).sum();
    assert_eq!(n, 300);
    // Connects with at least one retransmission, over every key.
    let share = w
        .iter()
        .map(|x| x.retransmitted * x.connects as f64)
        .sum::<f64>()
        / n as f64;
    let k = (w[0].figure(Figure::TlsBytesDown).p50 as f64 / 1448.0).ceil();
    let lo = 1.0 - 0.9f64.powf(3.0 + k);
    let hi = 1.0 - 0.9f64.powf(3.0 + k + 2.0);
    let sigma = (hi * (1.0 - lo) / n as f64).sqrt();
    eprintln!("loss 0.1: {share:.3} of {n} connects retransmitted, model band [{lo:.3}, {hi:.3}] (k = {k} segments down), sigma {sigma:.3}");
    assert!(
        share >= lo - 4.0 * sigma && share <= hi + 4.0 * sigma,
        "share with a retransmission {share:.3}, model band [{lo:.3}, {hi:.3}] ± 4 x {sigma:.3}"
    );
    assert!(
        sum.keys
            .iter()
            .any(|k| k.endpoint == Some(EndpointKind::AtsRsa)),
        "the chain was told apart"
    );
}

/// Every link value is range-checked with its position, and an unknown
/// profile or key names what is allowed.
#[test]
fn link_values_are_checked_with_positions() {
    let base = "[run]\nname = \"l\"\nduration_s = 1\n[target]\nkind = \"embedded\"\n[arrival]\nmode = \"storm\"\n[[fleet]]\nname = \"g\"\ndevices = 1\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n";
    let cases = [
        (
            "link = \"5g\"\n",
            "unknown link \"5g\" (links: loopback, wifi",
        ),
        ("link = 3\n", "expected a profile name"),
        ("[fleet.link]\nrtt_ms = -1\n", "allowed: 0 <="),
        (
            "[fleet.link]\nloss = 0.9\n",
            "link.loss = 0.9 is out of range",
        ),
        ("[fleet.link]\nmtu = 100\n", "mtu = 100 is out of range"),
        (
            "[fleet.link]\ndown_kbps = 0.01\n",
            "allowed 0 (unlimited) or 0.1 <=",
        ),
        (
            "[fleet.link]\nprofile = \"nb-iot\"\nbandwidth = 3\n",
            "unknown link key \"bandwidth\"",
        ),
        ("tls_timeout_s = 0\n", "tls_timeout_s"),
    ];
    for (extra, want) in cases {
        let text = format!("{base}{extra}");
        let e = scenario::parse(Path::new("l.toml"), &text)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("l.toml:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
        assert!(line >= 13, "{extra:?}: {e}");
        assert!(e.contains(want), "{extra:?}: {e}");
    }
    // A profile with an override: named after both.
    let s = scenario::parse(
        Path::new("l.toml"),
        &format!("{base}[fleet.link]\nprofile = \"nb-iot\"\nrtt_ms = 1200\n"),
    )
    .unwrap();
    let g = &s.groups[0];
    assert_eq!(g.link_name, "nb-iot+rtt_ms");
    assert_eq!(g.link.rtt_ms, 1200.0);
    assert_eq!(g.link.down_kbps, Some(26.0));
}

/// The kernel's token-bucket qdisc, in a network namespace of its own
/// (`unshare -n`; this kernel has no netem, tbf works), shaping loopback to
/// 20 kbit/s with a 1,500 B MTU, against the same fleet on plain loopback
/// with chainstorm's `down_kbps = up_kbps = 20`: tls_handshake p50 within
/// 10 %. What differs: tbf has one bucket for both directions of lo (ACKs
/// and the client's segments share it) and a 1,600 B burst; chainstorm has
/// a line per direction and no burst. One handshake at a time, so the
/// shared bucket is not shared between devices.
#[test]
fn tbf_and_the_emulated_bandwidth_agree() {
    let ok = std::process::Command::new("unshare")
        .args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && tc qdisc add dev lo root tbf rate 20kbit burst 1600 latency 5s",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        crate::common::missing("unshare -n with tc (root)");
        return;
    }
    let scenario = |name: &str, link: &str| {
        EmbeddedScenario::new(
            name,
            "seed = 9\nduration_s = 7\ndrain_timeout_s = 30",
            &format!(
                "[[fleet]]\nname = \"g\"\ndevices = 6\nprofile = \"ats-rsa-only\"\nprotocol = \"tls\"\nendpoint = \"ats\"\ntls_versions = [\"1.3\"]\ntls_timeout_s = 60\n{link}\n\
                 [arrival]\nmode = \"rate\"\nstart_rate = 1\nstages = [{{ to_rate = 1, over_s = 6 }}]\nmax_in_flight = 1\n"
            ),
        )
    };
    let p50 = |out: &std::process::Output| -> f64 {
        crate::common::assert_ok(out);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s["totals"]["failed"], 0, "{s}");
        s["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["phase"] == "tls_handshake")
            .unwrap()["p50"]
            .as_f64()
            .unwrap()
    };
    let tbf = scenario("tbf", "");
    let bin = env!("CARGO_BIN_EXE_chainstorm");
    let shaped = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c"])
        .arg(format!(
            "ip link set lo up && ip link set lo mtu 1500 && tc qdisc add dev lo root tbf rate 20kbit burst 1600 latency 5s && exec {bin} run {} --no-tui --quiet --json",
            tbf.scenario.display()
        ))
        .output()
        .unwrap();
    let emu = scenario("emu", "[fleet.link]\ndown_kbps = 20\nup_kbps = 20");
    let ours = crate::common::bin()
        .args([
            "run",
            &emu.scenario.display().to_string(),
            "--no-tui",
            "--quiet",
            "--json",
        ])
        .output()
        .unwrap();
    let (a, b) = (p50(&shaped), p50(&ours));
    eprintln!(
        "tls_handshake p50: tbf {a:.0} ns, chainstorm {b:.0} ns, ratio {:.3}",
        b / a
    );
    assert!(
        (b - a).abs() <= 0.10 * a,
        "tbf {a:.0} ns vs chainstorm {b:.0} ns"
    );
}

/// A Toxiproxy latency toxic (the `noxious` crate, Toxiproxy's model in
/// Rust) of 100 ms each way in front of the endpoint, against chainstorm's
/// `rtt_ms = 200` straight to it. The TLS handshake and CONNECT/CONNACK
/// each take one round trip through either: p50 within 10 %. The TCP
/// connect cannot match: the proxy accepts at once (its toxics act on data,
/// not on the SYN), so through it the connect stays a loopback one, while
/// chainstorm adds the SYN/SYN-ACK round trip.
#[test]
fn a_toxiproxy_latency_toxic_and_the_emulated_rtt_agree() {
    use noxious::proxy::{ProxyConfig, ProxyRunner, Runner, Toxics};
    use noxious::signal::{Close, Stop};
    use noxious::toxic::{StreamDirection, Toxic, ToxicKind};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ep = rt.block_on(crate::common::endpoint(|_| {}));
    let upstream = ep.addrs()[0].1;
    let port = crate::common::free_port();
    let latency = |direction| Toxic {
        kind: ToxicKind::Latency {
            latency: 100,
            jitter: 0,
        },
        name: format!("{direction:?}"),
        toxicity: 1.0,
        direction,
    };
    let config = ProxyConfig {
        name: "endpoint".into(),
        listen: format!("127.0.0.1:{port}"),
        upstream: upstream.to_string(),
        enabled: true,
        rand_seed: Some(1),
    };
    let toxics = Toxics {
        upstream: vec![latency(StreamDirection::Upstream)],
        downstream: vec![latency(StreamDirection::Downstream)],
    };
    rt.spawn(async move {
        let (listener, info) =
            ProxyRunner::initialize_proxy::<noxious::socket::TcpListener>(config, toxics)
                .await
                .unwrap();
        let (_events, receiver) = bmrng::channel(1);
        let (stop, _stopper) = Stop::new();
        let (_close, closer) = Close::new();
        let _ = ProxyRunner::run_proxy(listener, info, receiver, stop, closer).await;
    });
    assert!(crate::common::wait_port(port), "the proxy listens");
    let pki = crate::common::pki_files();
    let scenario = |name: &str, addr: &str, link: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            format!(
                "[run]\nname = \"{name}\"\nseed = 2\nduration_s = 3\ndrain_timeout_s = 20\noutput_dir = \"{out}\"\n\
                 [target]\nkind = \"external\"\naddresses = [\"{addr}\"]\npki = \"{pki}\"\n\
                 [[fleet]]\nname = \"g\"\ndevices = 100\nprofile = \"ats-rsa-only\"\nprotocol = \"mqtt311\"\nendpoint = \"ats\"\ntls_versions = [\"1.3\"]\n{link}\n\
                 [arrival]\nmode = \"rate\"\nstart_rate = 50\nstages = [{{ to_rate = 50, over_s = 2 }}]\n",
                out = dir.path().join("results").display(),
                pki = pki.path().display()
            ),
        )
        .unwrap();
        (dir, path)
    };
    let summary = |path: &Path| {
        let opts = RunOptions::default();
        let sc = runner::prepare(path, &opts).unwrap();
        let s = runner::run_scenario(sc, opts, Control::new(), |_| {})
            .unwrap()
            .summary;
        assert_eq!(s.totals.failed, 0, "{:?}", s.failures);
        s
    };
    let (_a, proxied) = scenario("proxied", &format!("127.0.0.1:{port}"), "");
    let (_b, emulated) = scenario(
        "emulated",
        &upstream.to_string(),
        "[fleet.link]\nrtt_ms = 200",
    );
    let (p, e) = (summary(&proxied), summary(&emulated));
    let phase =
        |s: &Summary, ph: Phase| s.phases.iter().find(|k| k.phase == ph).unwrap().stats.p50 as f64;
    for ph in [Phase::TlsHandshake, Phase::MqttConnack] {
        let (x, y) = (phase(&p, ph), phase(&e, ph));
        eprintln!(
            "{ph} p50: noxious {x:.0} ns, chainstorm {y:.0} ns, ratio {:.3}",
            y / x
        );
        assert!(
            (y - x).abs() <= 0.10 * x,
            "{ph}: noxious {x:.0} ns vs chainstorm {y:.0} ns"
        );
    }
    let (x, y) = (phase(&p, Phase::TcpConnect), phase(&e, Phase::TcpConnect));
    eprintln!(
        "tcp_connect p50: noxious {x:.0} ns (the proxy accepts at once), chainstorm {y:.0} ns"
    );
    assert!(
        x < 50e6 && y >= 190e6,
        "tcp_connect: noxious {x:.0} ns, chainstorm {y:.0} ns"
    );
    drop(ep);
}
