//! Hostile scenario values and flags: each is refused where it is written
//! (file:line:col and the allowed range), never a panic, a hang or a
//! silent cast; and a property over random values in every numeric key.

use std::path::Path;
use std::process::Command;

use chainstorm::scenario::{self, Plan};
use proptest::prelude::*;

const BASE: &str = r#"
[run]
name = "h"
duration_s = 5
[target]
kind = "embedded"
[[fleet]]
name = "g"
devices = 10
profile = "ats-rsa-only"
endpoint = "ats"
[arrival]
mode = "rate"
start_rate = 10
stages = [{ to_rate = 10, over_s = 5 }]
"#;

/// `BASE` with `key = value` set in `[table]` (replacing the line when the
/// key is there).
fn with(table: &str, key: &str, value: &str) -> String {
    let mut out = String::new();
    let mut in_table = false;
    let mut done = false;
    for line in BASE.lines() {
        if line.starts_with('[') {
            if in_table && !done {
                out.push_str(&format!("{key} = {value}\n"));
                done = true;
            }
            in_table = line.trim_matches(|c| c == '[' || c == ']') == table;
        }
        if in_table && line.starts_with(&format!("{key} =")) {
            out.push_str(&format!("{key} = {value}\n"));
            done = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !done && in_table {
        out.push_str(&format!("{key} = {value}\n"));
    } else if !done {
        out.push_str(&format!("[{table}]\n{key} = {value}\n"));
    }
    out
}

fn error(text: &str) -> String {
    match scenario::parse(Path::new("hostile.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Every example the robustness review found, each refused with a position
/// and the allowed range.
#[test]
fn hostile_values_are_refused_with_position_and_range() {
    let cases = [
        ("run", "duration_s", "1e20", "run.duration_s = 1e20 is out of range; allowed: 0 < run.duration_s <= 604800"),
        ("fleet", "hold_s", "1e300", "fleet[0].hold_s = 1e300 is out of range"),
        ("run", "interval_s", "1e300", "run.interval_s = 1e300 is out of range"),
        ("run", "tls_timeout_s", "-1", "run.tls_timeout_s = -1 is out of range"),
        ("fleet", "client_id", "\"{index:099999999}\"", "is not a width from 1 to 20"),
        ("fleet", "client_id", "\"x\\u0000y\"", "no NUL"),
        ("fleet", "publish_per_s", "1e-300", "publish_per_s = 1e-300: allowed 0 (off) or 0.001"),
        ("fleet", "devices", "4294967297", "fleet[0].devices = 4294967297 is out of range; allowed: 1 <= fleet[0].devices <= 10000000"),
        ("arrival", "start_rate", "nan", "arrival.start_rate = NaN is not a finite number"),
        ("target", "sni_ats", "\"not a name!\"", "target.sni_ats: \"not a name!\" is not a valid DNS name"),
        ("target", "account_prefix", "\"a.b\"", "account_prefix \"a.b\": allowed 1 to 59 letters"),
        ("target", "alpn", "\"\"", "target.alpn \"\": allowed 1 to 255 bytes"),
        ("target", "pki", "\"/nonexistent/pki\"", "no such PKI directory"),
        ("reconnect", "cap_ms", "1", "reconnect.cap_ms = 1 is out of range; allowed: 100 <= reconnect.cap_ms"),
    ];
    for (table, key, value, want) in cases {
        let e = error(&with(table, key, value));
        assert!(e.starts_with("hostile.toml:"), "{key}: {e}");
        let pos: Vec<&str> = e.splitn(4, ':').collect();
        assert!(
            pos[1].parse::<u32>().is_ok() && pos[2].parse::<u32>().is_ok(),
            "{e}"
        );
        assert!(
            e.contains(want),
            "{key} = {value}:\n  got  {e}\n  want {want}"
        );
        assert!(e.chars().count() <= 520, "capped: {e}");
    }
    // A float where a count goes: a type error at its position.
    let e = error(&with("fleet", "devices", "1e12"));
    assert!(e.starts_with("hostile.toml:9:"), "{e}");
}

/// A trust bundle that is a directory, empty, or not PEM is refused while
/// loading, before any results directory exists.
#[test]
fn pem_bundles_are_checked_when_loading() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("empty.pem"), "").unwrap();
    std::fs::write(
        d.path().join("junk.pem"),
        "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (name, want) in [
        (d.path().display().to_string(), "is a directory"),
        (
            d.path().join("empty.pem").display().to_string(),
            "holds no certificate",
        ),
        (
            d.path().join("junk.pem").display().to_string(),
            "not a PEM certificate bundle",
        ),
    ] {
        let e = error(&with("fleet", "profile", &format!("\"pem:{name}\"")));
        assert!(e.contains(want), "{e}");
    }
}

/// `pem:PATH` is relative to the scenario's directory, at load time and
/// when the run resolves the profile (the run once read it from the
/// working directory, after the load had checked the other file).
#[test]
fn pem_bundle_paths_are_relative_to_the_scenario() {
    let d = tempfile::tempdir().unwrap();
    let roots = chainstorm::pki::Role::AtsRsaRoot;
    let der = crate::common::pki().cert(roots).as_ref().to_vec();
    std::fs::write(
        d.path().join("roots.pem"),
        pem::encode(&pem::Pem::new("CERTIFICATE", der)),
    )
    .unwrap();
    let file = d.path().join("fleet.toml");
    let s = scenario::parse(&file, &with("fleet", "profile", "\"pem:roots.pem\"")).unwrap();
    let trust = &s.groups[0].model.trust;
    assert_eq!(
        *trust,
        chainstorm::trust::ProfileRef::Pem(d.path().join("roots.pem"))
    );
    assert_ne!(std::env::current_dir().unwrap(), d.path());
    let p = chainstorm::trust::TrustProfile::load(trust, crate::common::pki()).unwrap();
    assert_eq!(p.anchors.len(), 1);
}

/// 65,537 groups would wrap the u16 group index and mislabel devices.
#[test]
fn too_many_groups_are_refused() {
    let mut text = String::from(
        "[run]\nname = \"h\"\nduration_s = 5\n[target]\nkind = \"embedded\"\n[arrival]\nmode = \"storm\"\n",
    );
    for i in 0..65_537 {
        text.push_str(&format!(
            "[[fleet]]\nname = \"g{i}\"\ndevices = 1\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n"
        ));
    }
    let e = error(&text);
    assert!(
        e.contains("65537 fleet groups; allowed: at most 65535"),
        "{e}"
    );
}

/// A rate that gives no arrival is an error; a tiny rate over a week plans
/// in time proportional to the devices (it integrated 100 µs steps once,
/// six billion of them).
#[test]
fn rates_give_arrivals_and_plan_in_proportion_to_devices() {
    let text = BASE
        .replace("duration_s = 5", "duration_s = 604800")
        .replace("start_rate = 10", "start_rate = 1e-9")
        .replace(
            "to_rate = 10, over_s = 5",
            "to_rate = 1e-9, over_s = 604800",
        );
    let e = error(&text);
    assert!(e.contains("no device would ever start"), "{e}");
    let text = BASE
        .replace("duration_s = 5", "duration_s = 604800")
        .replace("devices = 10", "devices = 5000")
        .replace("start_rate = 10", "start_rate = 0.01")
        .replace(
            "to_rate = 10, over_s = 5",
            "to_rate = 0.001, over_s = 604800",
        );
    let s = scenario::parse(Path::new("slow.toml"), &text).unwrap();
    let t = std::time::Instant::now();
    let plan = Plan::build(&s);
    eprintln!("planned a week of slow arrivals in {:?}", t.elapsed());
    // 0.01 → 0.001 /s over a week: (0.011 / 2) · 604800 = 3326 arrivals.
    assert_eq!(plan.devices.len(), 3326);
    assert!(plan
        .devices
        .windows(2)
        .all(|w| w[0].arrival <= w[1].arrival));
    assert!(plan.devices.last().unwrap().arrival.as_secs() <= 604_800);
}

use crate::common::bin;

/// Flags obey the same rules, with exit 2 and a message about the value.
#[test]
fn hostile_flags_exit_2_with_a_message_about_the_value() {
    let q = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    for (args, want) in [
        (vec!["run", q, "--devices", "0"], "0 is not in 1..=10000000"),
        (
            vec!["run", q, "--duration-s", "-5"],
            "-5 is out of range; allowed 0 < value <= 604800",
        ),
        (vec!["run", q, "--max-rate", "nan"], "out of range"),
        (vec!["fuzz", "--cases", "0"], "0 is not in 1..=100000000"),
        (vec!["serve", "--interval-s", "1e300"], "out of range"),
    ] {
        let out = bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

/// Every numeric key of the schema, with its table.
const NUMERIC: [(&str, &str); 16] = [
    ("run", "duration_s"),
    ("run", "drain_timeout_s"),
    ("run", "interval_s"),
    ("run", "dial_timeout_s"),
    ("run", "tls_timeout_s"),
    ("run", "mqtt_timeout_s"),
    ("run", "seed"),
    ("fleet", "devices"),
    ("fleet", "keepalive_s"),
    ("fleet", "hold_s"),
    ("fleet", "publish_per_s"),
    ("arrival", "start_rate"),
    ("arrival", "max_in_flight"),
    ("reconnect", "base_ms"),
    ("reconnect", "cap_ms"),
    ("reconnect", "max_attempts"),
];

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<i64>().prop_map(|x| x.to_string()),
        any::<u64>().prop_map(|x| x.to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        (0u32..1_000).prop_map(|x| x.to_string()),
        (0.0f64..10.0).prop_map(|x| x.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// A random value in any numeric key (reconnect needs its table): an
    /// error with a position, or a scenario whose plan builds; never a panic.
    #[test]
    fn any_number_in_any_key_is_an_error_with_position_or_a_plan(
        key in 0..NUMERIC.len(),
        value in number(),
    ) {
        let (table, name) = NUMERIC[key];
        let text = with(table, name, &value);
        match scenario::parse(Path::new("p.toml"), &text) {
            Err(e) => {
                let e = e.to_string();
                let parts: Vec<&str> = e.splitn(4, ':').collect();
                prop_assert!(parts.len() == 4 && parts[1].parse::<u32>().is_ok() && parts[2].parse::<u32>().is_ok(), "{}", e);
            }
            Ok(s) => {
                // Bounded: build the plan when it is small enough for a test.
                let devices = s.total_devices();
                if devices <= 100_000 {
                    let plan = Plan::build(&s);
                    prop_assert!(plan.devices.len() as u64 <= devices);
                }
            }
        }
    }
}

/// A fleet that cannot fit the open-files limit is refused before planning
/// or starting anything, with the numbers (run under `ulimit -n 4096`).
#[test]
fn a_fleet_beyond_the_open_files_limit_is_refused_up_front() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.toml");
    std::fs::write(
        &p,
        BASE.replace("devices = 10", "devices = 5000\nhold_s = 60")
            .replace(
                "duration_s = 5",
                &format!(
                    "duration_s = 5\noutput_dir = \"{}\"",
                    d.path().join("r").display()
                ),
            ),
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 4096 && exec {} run {} --quiet",
            env!("CARGO_BIN_EXE_chainstorm"),
            p.display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("this run may hold 10064 sockets (5000 devices, two sockets each with the embedded endpoint), but the open-files limit is 4096"), "{err}");
    assert!(!d.path().join("r").exists(), "nothing written");
}
