//! Every view at 80×24 and 160×48, drawn with ratatui's TestBackend from a
//! fixed frame holding failures of several kinds; compared with insta
//! snapshots in tests/it/snapshots/.

use chainstorm::metrics::{
    BreakdownRow, Cause, EndpointKind, FailPhase, FailureRow, Phase, PhaseRow, Snapshot, Stats,
};
use chainstorm::ui::{draw, UiFrame, UiHeader, UiModel};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

fn stats(base: u64) -> Stats {
    Stats {
        count: 1000 + base / 1000,
        p50: base,
        p90: base * 2,
        p99: base * 4,
        p999: base * 9,
        max: base * 20,
        mean: base as f64 * 1.3,
    }
}

#[allow(clippy::too_many_arguments)]
fn failure(
    phase: FailPhase,
    cause: &str,
    group: &str,
    profile: &str,
    endpoint: EndpointKind,
    count: u64,
    first_ms: u64,
    sample: &str,
) -> FailureRow {
    FailureRow {
        cause: Cause::parse(phase, cause).expect("a taxonomy label"),
        group: group.into(),
        profile: profile.into(),
        endpoint,
        count,
        share: count as f64 / 610.0,
        rate_now: count as f64 / 20.0,
        first_seen_ms: first_ms,
        last_seen_ms: 19_500,
        sample: sample.into(),
    }
}

fn frame(elapsed: f64) -> UiFrame {
    let phases = Phase::ALL
        .iter()
        .enumerate()
        .map(|(i, p)| PhaseRow {
            phase: *p,
            interval: stats(80_000 * (i as u64 + 1)),
            total: stats(75_000 * (i as u64 + 1)),
        })
        .collect();
    let snapshot = Snapshot {
        elapsed_s: elapsed,
        planned_s: 25.0,
        state: chainstorm::metrics::RunState::Holding,
        attempted: 2400,
        succeeded: 1790,
        failed: 610,
        in_flight: 0,
        connected: 1412,
        planned_devices: 2400,
        target_rate: 160.0,
        planned_concurrency: 1500,
        attempted_rate: 150.0,
        succeeded_rate: 112.0,
        failed_rate: 38.0,
        phases,
        anchors: vec![
            (chainstorm::metrics::Anchor::AtsEcc, stats(158_000)),
            (chainstorm::metrics::Anchor::AtsRsa, stats(77_000)),
            (chainstorm::metrics::Anchor::CrossSigned, stats(101_000)),
            (chainstorm::metrics::Anchor::LegacyRsa, stats(75_000)),
        ],
        failures: vec![
            failure(FailPhase::Verify, "distrusted(SYMANTEC_TLS)", "java-clients", "jdk-8u212", EndpointKind::Legacy, 300, 1_200,
                "TLS Server certificate issued after 2019-04-16 and anchored by a distrusted legacy Symantec root CA: CN=VeriSign Class 3 Public Primary Certification Authority - G5"),
            failure(FailPhase::Verify, "unknown_issuer", "legacy-stuck-on-ats", "legacy-only", EndpointKind::Ats, 200, 900,
                "no path from the server's chain to any anchor of the trust store"),
            failure(FailPhase::Mqtt, "connack(0x03)", "ats-rsa-devices", "ats-rsa-only", EndpointKind::AtsRsa, 70, 5_000,
                "CONNACK 0x03: server unavailable"),
            failure(FailPhase::Dial, "refused", "ecc-devices", "ats-ecc-only", EndpointKind::Ats, 40, 18_000,
                "Connection refused (os error 111)"),
        ],
        groups: vec![
            BreakdownRow { name: "legacy-devices".into(), profile: "legacy-only".into(), link: String::new(), connect_total: stats(1_200_000), chain_validation: stats(75_000), failed: 0 },
            BreakdownRow { name: "java-clients".into(), profile: "jdk-8u212".into(), link: String::new(), connect_total: Stats::default(), chain_validation: stats(84_000), failed: 300 },
        ],
        endpoints: vec![
            BreakdownRow { name: "legacy".into(), profile: String::new(), link: String::new(), connect_total: stats(1_200_000), chain_validation: stats(76_000), failed: 300 },
            BreakdownRow { name: "ats-rsa".into(), profile: String::new(), link: String::new(), connect_total: stats(1_220_000), chain_validation: stats(77_000), failed: 70 },
        ],
    };
    UiFrame {
        snapshot,
        thresholds: vec![
            ("connect_total.p99 < 250ms".into(), true),
            ("failures.rate < 0.5%".into(), false),
        ],
    }
}

fn model() -> UiModel {
    let mut m = UiModel::new(
        UiHeader {
            scenario: "quickstart".into(),
            target: "embedded mock endpoint".into(),
            seed: 42,
        },
        true,
    );
    // Two ticks of history; the second is the one shown.
    m.update(frame(19.0));
    m.update(frame(20.0));
    m
}

fn render(m: &UiModel, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, m)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn key(m: &mut UiModel, c: KeyCode) {
    m.on_key(KeyEvent::new(c, KeyModifiers::NONE));
}

#[test]
fn overview() {
    let m = model();
    insta::assert_snapshot!("overview_80x24", render(&m, 80, 24));
    insta::assert_snapshot!("overview_160x48", render(&m, 160, 48));
}

#[test]
fn failures_with_details() {
    let mut m = model();
    key(&mut m, KeyCode::Tab);
    key(&mut m, KeyCode::Down);
    insta::assert_snapshot!("failures_80x24", render(&m, 80, 24));
    key(&mut m, KeyCode::Enter);
    insta::assert_snapshot!("failure_details_160x48", render(&m, 160, 48));
}

#[test]
fn groups_and_endpoints() {
    let mut m = model();
    key(&mut m, KeyCode::Tab);
    key(&mut m, KeyCode::Tab);
    insta::assert_snapshot!("groups_80x24", render(&m, 80, 24));
    insta::assert_snapshot!("groups_160x48", render(&m, 160, 48));
    key(&mut m, KeyCode::Tab);
    insta::assert_snapshot!("endpoints_80x24", render(&m, 80, 24));
    insta::assert_snapshot!("endpoints_160x48", render(&m, 160, 48));
}

#[test]
fn help_overlay() {
    let mut m = model();
    key(&mut m, KeyCode::Char('?'));
    insta::assert_snapshot!("help_80x24", render(&m, 80, 24));
}

#[test]
fn text_is_never_garbled_at_80x24() {
    // Every view fits: each line is exactly 80 cells and the footer survives.
    let mut m = model();
    for _ in 0..4 {
        let s = render(&m, 80, 24);
        assert!(s.lines().all(|l| l.chars().count() == 80));
        assert!(s.lines().last().unwrap().starts_with("q stop"), "{s}");
        key(&mut m, KeyCode::Tab);
    }
}

#[test]
fn new_failure_kinds_are_marked() {
    let m = model();
    // "refused" first appeared at 18 s, shown at 20 s: new; SYMANTEC_TLS at 1.2 s: not.
    let rows = &m.frame.snapshot.failures;
    assert!(m.is_new(&rows[3]));
    assert!(!m.is_new(&rows[0]));
}
