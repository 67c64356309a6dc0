//! The binary's contract: help on every verb, exit 2 with one line for usage
//! and input errors, and the pki / profiles verbs end to end.

use std::process::Command;

use crate::common::bin;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_verb_has_help() {
    for verb in [
        &["--help"][..],
        &["pki", "--help"],
        &["pki", "init", "--help"],
        &["pki", "show", "--help"],
        &["profiles", "--help"],
        &["run", "--help"],
    ] {
        let (code, out, _) = run(verb);
        assert_eq!(code, 0, "{verb:?}");
        assert!(out.contains("Usage:"), "{verb:?}: {out}");
    }
}

/// Each verb's --help lists its exit codes.
#[test]
fn every_verb_lists_its_exit_codes() {
    for verb in [
        "run",
        "serve",
        "compare",
        "report",
        "probe",
        "merge",
        "fuzz",
        "profiles",
        "completions",
    ] {
        let (code, out, _) = run(&[verb, "--help"]);
        assert_eq!(code, 0, "{verb}");
        assert!(out.contains("Exit codes: 0"), "{verb}: {out}");
    }
    let (_, out, _) = run(&["run", "--help"]);
    assert!(
        out.contains("130 / 143") && out.contains("1 a threshold failed"),
        "{out}"
    );
}

/// A mistyped verb or flag gets clap's suggestion, still on one line.
#[test]
fn mistyped_verbs_and_flags_get_a_suggestion() {
    let (code, _, err) = run(&["comapre", "a", "b"]);
    assert_eq!(code, 2);
    assert!(err.contains("'compare'"), "{err}");
    let (code, _, err) = run(&["run", "x.toml", "--duraton-s", "5"]);
    assert_eq!(code, 2);
    assert!(err.contains("--duration-s"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// Shell completions and the man page come from the same definitions.
#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("chainstorm") && out.contains("merge"),
            "{shell}"
        );
    }
    let (code, _, _) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH chainstorm"),
        "{}",
        &out[..200.min(out.len())]
    );
    assert!(out.contains("probe") && out.contains("compare"));
    // bash can load the completion script.
    let d = tempfile::tempdir().unwrap();
    let (_, script, _) = run(&["completions", "bash"]);
    let p = d.path().join("c.bash");
    std::fs::write(&p, script).unwrap();
    let ok = Command::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p chainstorm", p.display()),
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["bogus"][..],
        &["pki", "init"],
        &["pki", "init", "--out", "/tmp/x", "--devices", "many"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("chainstorm: "), "{err}");
    }
}

#[test]
fn input_errors_name_the_path() {
    let (code, _, err) = run(&["pki", "show", "/nonexistent/pki"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/pki/manifest.json"), "{err}");
    let (code, _, err) = run(&["run", "/nonexistent/scenario.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/scenario.toml"), "{err}");
    let (code, _, err) = run(&[
        "pki",
        "init",
        "--out",
        "/tmp/never",
        "--legacy-leaf-not-before",
        "yesterday",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn pki_init_show_and_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let o = out.to_str().unwrap();
    let (code, stdout, err) = run(&[
        "pki",
        "init",
        "--out",
        o,
        "--devices",
        "50",
        "--legacy-leaf-not-before",
        "2019-04-16T23:59:59Z",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("wrote 31 certificates"), "{stdout}");
    assert!(stdout.contains("minted 50 device certificates"), "{stdout}");
    assert!(out.join("devices/device-000049.pem").exists());
    // A second init without --force refuses to overwrite.
    let (code, _, err) = run(&["pki", "init", "--out", o]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");

    let (code, stdout, _) = run(&["pki", "show", o]);
    assert_eq!(code, 0);
    assert!(stdout.contains("VeriSign Class 3 Public Primary Certification Authority - G5"));
    assert!(
        stdout.contains("2019-04-16 .."),
        "legacy leaf date honoured:\n{stdout}"
    );
    // The Certificate message each served chain needs, per TLS version.
    assert!(stdout.contains("Certificate handshake message per served chain"));
    assert!(stdout.contains("ats-rsa-class2"), "{stdout}");
    let (code, json, _) = run(&["pki", "show", o, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["certificates"].as_array().unwrap().len(), 31);
    let chains = v["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 16);
    let bytes = |c: &str, ver: &str| {
        chains.iter().find(|x| x["chain"] == c).unwrap()["certificate_message_bytes"][ver]
            .as_u64()
            .unwrap()
    };
    // TLS 1.3 adds a context byte and 2 bytes per certificate.
    assert_eq!(
        bytes("ats-rsa-xsign", "tls13"),
        bytes("ats-rsa-xsign", "tls12") + 1 + 2 * 3
    );

    let (code, stdout, _) = run(&["profiles", "--pki", o]);
    assert_eq!(code, 0);
    for p in [
        "legacy-only",
        "jdk-8u212",
        "chrome-70",
        "firefox-64",
        "webpki-roots",
        "pem:PATH",
        "esp32-mbedtls-4k",
        "wolfssl-strict",
        "openssl-1.0.2-legacy",
    ] {
        assert!(stdout.contains(p), "{p} missing:\n{stdout}");
    }
    assert!(stdout.contains("checked against"));
    assert!(stdout.contains("[SYMANTEC_TLS]"));
}

const GOOD: &str = r#"[run]
name = "x"
duration_s = 1
[target]
kind = "embedded"
[[fleet]]
name = "g"
devices = 1
profile = "dual"
endpoint = "ats"
[arrival]
mode = "rate"
stages = [{ to_rate = 10, over_s = 1 }]
"#;

/// Writes a broken variant of a valid scenario and runs it.
fn run_scenario_text(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text).unwrap();
    let (code, _, err) = run(&["run", p.to_str().unwrap(), "--quiet"]);
    (code, err)
}

#[test]
fn bad_scenarios_exit_2_with_file_line_col() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            GOOD.replace("duration_s = 1", "duration_s = "),
            "bad.toml:3:",
            "malformed TOML",
        ),
        (
            GOOD.replace(
                "kind = \"embedded\"",
                "kind = \"embedded\"\ncolour = \"red\"",
            ),
            "bad.toml:6:1",
            "unknown field",
        ),
        (
            GOOD.replace("profile = \"dual\"", "profile = \"jdk-9\""),
            "bad.toml:9:11",
            "unknown trust profile",
        ),
        (
            GOOD.replace("to_rate = 10", "to_rate = -5"),
            "bad.toml:13:",
            "arrival.stages[0].to_rate = -5 is out of range; allowed: 0 <=",
        ),
        (
            GOOD.replace("devices = 1", "devices = 0"),
            "bad.toml:8:11",
            "fleet[0].devices = 0 is out of range; allowed: 1 <=",
        ),
        (
            GOOD.replace(
                "profile = \"dual\"",
                "profile = \"pem:/nonexistent/roots.pem\"",
            ),
            "/nonexistent/roots.pem",
            "cannot read",
        ),
        (
            GOOD.replace(
                "endpoint = \"ats\"",
                "endpoint = \"legacy\"\nregion = \"ap-south-1\"",
            ),
            "bad.toml:11:",
            "no legacy (VeriSign) endpoint",
        ),
    ];
    for (text, where_, what) in cases {
        let (code, err) = run_scenario_text(&text);
        assert_eq!(code, 2, "{what}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(where_), "{what}: expected {where_:?} in {err}");
        assert!(
            err.contains(what) || what == "malformed TOML",
            "{what}: {err}"
        );
    }
}

#[test]
fn remote_targets_are_refused_without_allow_remote() {
    let text = GOOD.replace(
        "kind = \"embedded\"",
        "kind = \"external\"\naddresses = [\"192.0.2.10:8883\"]",
    );
    let (code, err) = run_scenario_text(&text);
    assert_eq!(code, 2);
    assert!(err.contains("--allow-remote"), "{err}");
}

#[test]
fn shipped_scenarios_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let s = chainstorm::scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            let plan = chainstorm::scenario::Plan::build(&s);
            assert!(!plan.devices.is_empty(), "{}", p.display());
            // Same scenario and seed: the same plan.
            let again = chainstorm::scenario::Plan::build(&chainstorm::scenario::load(&p).unwrap());
            assert_eq!(plan.devices, again.devices, "{}", p.display());
            n += 1;
        }
    }
    assert!(n >= 6, "{n} scenarios");
}

/// A long embedded run (60 s of 50 arrivals per second) in its own
/// directory: `run_extra` goes into `[run]`, `rest` after `[target]`
/// (faults, fleet groups).
struct LongRun(crate::common::EmbeddedScenario);

impl LongRun {
    fn new(name: &str, run_extra: &str, rest: &str) -> LongRun {
        LongRun(crate::common::EmbeddedScenario::new(
            name,
            &format!("duration_s = 60\n{run_extra}"),
            &format!(
                "{rest}\n[arrival]\nmode = \"rate\"\nstart_rate = 50\nstages = [{{ to_rate = 50, over_s = 60 }}]"
            ),
        ))
    }

    /// Starts `chainstorm run` on it (stderr kept for the assertions).
    fn spawn(&self) -> std::process::Child {
        bin()
            .args(["run", self.0.scenario.to_str().unwrap(), "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The one results directory the run wrote.
    fn run_dir(&self) -> std::path::PathBuf {
        let runs: Vec<_> = std::fs::read_dir(self.0.results()).unwrap().collect();
        assert_eq!(runs.len(), 1);
        runs[0].as_ref().unwrap().path()
    }
}

fn sigterm(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

const ONE_GROUP: &str =
    "[[fleet]]\nname = \"g\"\ndevices = 3000\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n";

#[test]
fn sigterm_drains_writes_results_and_exits_143() {
    let r = LongRun::new("long", "", &format!("{ONE_GROUP}hold_s = 60\n"));
    let child = r.spawn();
    std::thread::sleep(std::time::Duration::from_secs(3));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_dir = r.run_dir();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["totals"]["accounting_ok"], true);
    assert!(
        summary["totals"]["succeeded"].as_u64().unwrap() > 10,
        "{}",
        summary["totals"]
    );
    for f in ["latency.hlog", "timeseries.csv", "scenario.toml"] {
        assert!(run_dir.join(f).exists(), "{f}");
    }
}

/// `kill -9` mid-run: the interval log and both CSVs hold every complete
/// tick (they are appended and flushed each tick), and no half-written
/// summary is left behind (it is written by rename, at the end).
#[test]
fn sigkill_keeps_every_complete_tick() {
    let stuck =
        "[[fleet]]\nname = \"stuck\"\ndevices = 1000\nprofile = \"legacy-only\"\nendpoint = \"ats\"\n";
    let r = LongRun::new("killed", "", &format!("{ONE_GROUP}{stuck}"));
    let mut child = r.spawn();
    std::thread::sleep(std::time::Duration::from_millis(4_500));
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let run_dir = r.run_dir();
    assert!(!run_dir.join("summary.json").exists());
    let rows = chainstorm::results::read_timeseries(&run_dir.join("timeseries.csv")).unwrap();
    assert!(rows.len() >= 3, "{} ticks", rows.len());
    assert!(rows.iter().map(|r| r.attempted).sum::<u64>() > 100);
    let fails =
        chainstorm::results::timeseries::read_failures(&run_dir.join("failures.csv")).unwrap();
    assert!(fails
        .iter()
        .any(|f| f.cause.to_string() == "unknown_issuer" && f.count > 0));
    let groups = vec!["g".to_string(), "stuck".to_string()];
    let log = chainstorm::results::hlog::read_log(&run_dir.join("latency.hlog"), &groups).unwrap();
    assert!(log.iter().any(|e| e.key.is_some()) && log.iter().any(|e| e.key.is_none()));
}

/// After SIGTERM, the ticks while draining say so in `timeseries.csv`
/// (a reader no longer sees arrivals that seem to go on after the signal).
#[test]
fn the_ticks_after_a_stop_are_labelled_draining() {
    let r = LongRun::new(
        "stopped",
        "drain_timeout_s = 2",
        &format!("{ONE_GROUP}hold_s = 60\n"),
    );
    let child = r.spawn();
    std::thread::sleep(std::time::Duration::from_secs(3));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let rows = chainstorm::results::read_timeseries(&r.run_dir().join("timeseries.csv")).unwrap();
    use chainstorm::metrics::RunState;
    let stopped = |s: RunState| matches!(s, RunState::Draining | RunState::Done);
    let first_stopped = rows
        .iter()
        .position(|r| stopped(r.state))
        .expect("a tick after the stop");
    assert!(first_stopped >= 2, "ran before the signal");
    assert!(
        rows[first_stopped..].iter().all(|r| stopped(r.state)),
        "{:?}",
        rows.iter().map(|r| r.state).collect::<Vec<_>>()
    );
    assert!(rows[..first_stopped]
        .iter()
        .all(|r| matches!(r.state, RunState::Ramping | RunState::Steady)));
}

/// A signal while the scenario loads still ends the run promptly, with
/// results and 143; a second signal while draining exits at once.
#[test]
fn signals_work_while_loading_and_a_second_one_exits_at_once() {
    // While loading: the signal thread is up before the scenario is read.
    let early = LongRun::new("early", "", ONE_GROUP);
    let child = early.spawn();
    std::thread::sleep(std::time::Duration::from_millis(150));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    // A second signal during a long drain (every handshake stalls until the
    // 60 s drain deadline): at once.
    let stalled = LongRun::new(
        "stalled",
        "drain_timeout_s = 60\ntls_timeout_s = 600",
        &format!("[target.endpoint.faults]\nstall_rate = 1.0\n{ONE_GROUP}"),
    );
    let child = stalled.spawn();
    std::thread::sleep(std::time::Duration::from_secs(3));
    sigterm(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("second signal"), "{err}");
}
