//! The TUI end to end, under tmux: a short scenario with injected failures
//! runs in a real terminal; the screen (read with capture-pane) names the
//! failure kinds; `q` stops the run, results are written and the terminal
//! is restored (no alternate screen, the summary on the normal screen).

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(session: &str, what: &[&str], limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let screen = tmux(&["capture-pane", "-t", session, "-p"]);
        if what.iter().all(|w| screen.contains(w)) {
            return screen;
        }
        assert!(
            start.elapsed() < limit,
            "waited for {what:?}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Session(String);

/// Starts `cmd` in a detached 120x40 tmux session named `name`; the
/// session is killed when the returned guard drops.
fn new_session(name: &str, cmd: &str) -> Session {
    let ok = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "120",
            "-y",
            "40",
            cmd,
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    Session(name.to_string())
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .output();
    }
}

#[test]
fn tui_shows_failures_and_q_stops_cleanly() {
    if !crate::common::have("tmux") {
        return;
    }
    let s = common::EmbeddedScenario::new(
        "tui",
        "duration_s = 60",
        r#"
[[fleet]]
name = "java"
devices = 2000
profile = "jdk-8u212"
endpoint = "legacy"
[[fleet]]
name = "stuck"
devices = 2000
profile = "legacy-only"
endpoint = "ats"
[[fleet]]
name = "fine"
devices = 2000
profile = "dual"
endpoint = "ats"
hold_s = 30
[arrival]
mode = "rate"
start_rate = 30
stages = [{ to_rate = 30, over_s = 60 }]
"#,
    );
    let (scenario, results) = (&s.scenario, s.results());
    let name = format!("chainstorm-tui-{}", std::process::id());
    let cmd = format!(
        "{} run {} ; echo CHAINSTORM_EXIT=$? ; sleep 120",
        env!("CARGO_BIN_EXE_chainstorm"),
        scenario.display()
    );
    let _s = new_session(&name, &cmd);
    let screen = wait_for(
        &name,
        &[
            "distrusted(SYMANTEC_TLS)",
            "unknown_issuer",
            "Overview",
            "ETA ",
            "/s of 30/s",
        ],
        Duration::from_secs(30),
    );
    // The progress line: a bar, a percentage, elapsed/planned and the ETA.
    let progress = screen
        .lines()
        .find(|l| l.contains("ETA "))
        .expect("a progress line");
    assert!(
        progress.contains('%') && progress.contains("/1m00s"),
        "{progress}"
    );
    assert!(screen.contains("chainstorm tui"), "{screen}");
    assert_eq!(
        tmux(&["display", "-p", "-t", &name, "#{alternate_on}"]).trim(),
        "1",
        "TUI on the alternate screen"
    );
    tmux(&["send-keys", "-t", &name, "q"]);
    let after = wait_for(&name, &["CHAINSTORM_EXIT="], Duration::from_secs(30));
    assert!(
        after.contains("CHAINSTORM_EXIT=0"),
        "q is a stop by choice: {after}"
    );
    assert_eq!(
        tmux(&["display", "-p", "-t", &name, "#{alternate_on}"]).trim(),
        "0",
        "terminal restored"
    );
    assert!(
        after.contains("results:"),
        "summary on the normal screen:\n{after}"
    );
    assert!(
        !after.contains("q stop · p pause"),
        "no TUI left on screen:\n{after}"
    );
    let runs: Vec<_> = std::fs::read_dir(&results).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs[0].as_ref().unwrap().path().join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["totals"]["accounting_ok"], true);
}

#[test]
fn fuzz_live_view_shows_classes_and_q_stops_with_a_report() {
    if !crate::common::have("tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("chainstorm-fuzz-{}", std::process::id());
    let cmd = format!(
        "{} fuzz --cases 5000000 --timeout-s 1 --output {} ; echo CHAINSTORM_EXIT=$? ; sleep 120",
        env!("CARGO_BIN_EXE_chainstorm"),
        dir.path().display()
    );
    let _s = new_session(&name, &cmd);
    let screen = wait_for(
        &name,
        &[
            "chainstorm fuzz",
            "valid",
            "server_hello",
            "new (operator, class)",
        ],
        Duration::from_secs(60),
    );
    assert!(screen.contains("/ 5000000 cases"), "{screen}");
    tmux(&["send-keys", "-t", &name, "q"]);
    let after = wait_for(&name, &["CHAINSTORM_EXIT="], Duration::from_secs(30));
    assert!(after.contains("stopped early"), "{after}");
    assert_eq!(
        tmux(&["display", "-p", "-t", &name, "#{alternate_on}"]).trim(),
        "0",
        "terminal restored"
    );
    let run = common::first_entry(dir.path());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["stopped_early"], true);
    let cases = report["cases"].as_u64().unwrap();
    assert!(cases > 0 && cases < 5_000_000, "{cases}");
}

/// Ctrl-C inside the TUI (raw mode delivers it as a key, not SIGINT) exits
/// 130 with results written, as Ctrl-C does headless.
#[test]
fn ctrl_c_in_the_tui_exits_130_with_results() {
    if !crate::common::have("tmux") {
        return;
    }
    let s = common::EmbeddedScenario::new(
        "ctrlc",
        "duration_s = 60",
        "[[fleet]]\nname = \"g\"\ndevices = 2000\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 30\nstages = [{ to_rate = 30, over_s = 60 }]",
    );
    let (scenario, results) = (&s.scenario, s.results());
    let name = format!("chainstorm-ctrlc-{}", std::process::id());
    let cmd = format!(
        "{} run {} ; echo CHAINSTORM_EXIT=$? ; sleep 120",
        env!("CARGO_BIN_EXE_chainstorm"),
        scenario.display()
    );
    let _s = new_session(&name, &cmd);
    wait_for(
        &name,
        &["chainstorm ctrlc", "Overview"],
        Duration::from_secs(30),
    );
    tmux(&["send-keys", "-t", &name, "C-c"]);
    let after = wait_for(&name, &["CHAINSTORM_EXIT="], Duration::from_secs(30));
    assert!(after.contains("CHAINSTORM_EXIT=130"), "{after}");
    let run = common::first_entry(&results);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
}
