//! `chainstorm compare` on runs with known differences: a 20 % p99
//! regression under a 10 % rule exits 1 and names the key; 5 % passes;
//! the Markdown and JUnit outputs are well formed with the right counts;
//! the noise allowance uses the spread of several bases.

use crate::common;
use std::path::{Path, PathBuf};

use crate::common::bin;

/// A summary.json from a real short run, made once per test binary.
fn real_summary(dir: &Path) -> serde_json::Value {
    let pki = dir.join("pki");
    assert!(bin()
        .args(["pki", "init", "--out", pki.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "[run]\nname = \"base\"\nduration_s = 2\noutput_dir = \"{}\"\n[target]\nkind = \"embedded\"\npki = \"{}\"\n\
             [[fleet]]\nname = \"g\"\ndevices = 60\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
             [arrival]\nmode = \"rate\"\nstart_rate = 40\nstages = [{{ to_rate = 40, over_s = 2 }}]\n",
            dir.join("results").display(),
            pki.display()
        ),
    )
    .unwrap();
    let out = bin()
        .args(["run", scenario.to_str().unwrap(), "--json", "--quiet"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Writes a copy of `s` with every connect_total p99 scaled by `factor`.
fn scaled(dir: &Path, name: &str, s: &serde_json::Value, factor: f64) -> PathBuf {
    let mut v = s.clone();
    for list in ["phases", "keys"] {
        for k in v[list].as_array_mut().unwrap() {
            if k["phase"] == "connect_total" {
                let p = k["p99"].as_f64().unwrap();
                k["p99"] = serde_json::json!((p * factor).round() as u64);
            }
        }
    }
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    p
}

fn compare(args: &[&str]) -> (i32, String, String) {
    let out = bin().arg("compare").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn regressions_formats_and_noise() {
    let dir = tempfile::tempdir().unwrap();
    let s = real_summary(dir.path());
    let base = scaled(dir.path(), "base", &s, 1.0);
    let worse = scaled(dir.path(), "worse", &s, 1.2);
    let slight = scaled(dir.path(), "slight", &s, 1.05);
    let (b, w, sl) = (
        base.to_str().unwrap(),
        worse.to_str().unwrap(),
        slight.to_str().unwrap(),
    );

    let (code, out, err) = compare(&[b, w, "--max-regression", "connect_total.p99=10%"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("connect_total/g/ats-rsa") && out.contains("REGRESSION"),
        "{out}"
    );
    assert!(out.contains("+20.0%"), "{out}");

    let (code, out, _) = compare(&[b, sl, "--max-regression", "connect_total.p99=10%"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no regression"), "{out}");

    // Markdown: a table with a header, a separator and one row per ruled series.
    let (code, md, _) = compare(&[
        b,
        w,
        "--max-regression",
        "connect_total.p99=10%",
        "--format",
        "md",
    ]);
    assert_eq!(code, 1);
    let table: Vec<&str> = md.lines().take_while(|l| l.starts_with('|')).collect();
    assert!(table[1].starts_with("|---|"));
    assert_eq!(table.len() - 2, 2, "overall + one group series:\n{md}");
    assert!(table.iter().all(|l| l.matches('|').count() == 10));
    assert!(md.contains("**REGRESSION**"));

    // JUnit: parses as XML, counts match.
    let (_, xml, _) = compare(&[
        b,
        w,
        "--max-regression",
        "connect_total.p99=10%",
        "--max-failure-rate",
        "1%",
        "--format",
        "junit",
    ]);
    let doc = roxmltree::Document::parse(&xml).expect("JUnit is XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("2"));
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 3);
    // And strict consumers accept it: junitparser reads the same counts and
    // the failures' type, message and body; the XSD's required attributes hold.
    let xml_path = dir.path().join("compare.xml");
    std::fs::write(&xml_path, &xml).unwrap();
    let checked = common::python(&format!(
        r#"
import junitparser, xmlschema
xmlschema.XMLSchema({xsd:?}).validate({xml:?})
xml = junitparser.JUnitXml.fromfile({xml:?})
suite = next(iter(xml))
fails = [r for case in suite for r in case.result]
assert all(f.type and f.message and "limit" in (f.text or "") for f in fails), fails
print(suite.tests, suite.failures, suite.errors, len(fails), suite.time >= 0, suite.timestamp is not None)
"#,
        xsd = common::data("junit.xsd").display().to_string(),
        xml = xml_path.display().to_string(),
    ));
    assert_eq!(checked.trim(), "3 2 0 2 True True");

    // No rules: the default gate applies (p99 per phase, failure rate), so a
    // 20 % regression is caught and the report never has zero tests.
    let (code, xml, _) = compare(&[b, w, "--format", "junit"]);
    assert_eq!(code, 1, "{xml}");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_ne!(suite.attribute("tests"), Some("0"));
    let (code, out, _) = compare(&[b, sl]);
    assert_eq!(code, 0, "5 % is within the default 10 %: {out}");
    assert!(out.contains("default gate"), "{out}");

    // Noise: three bases, median = base, spread 30 %: a 20 % change is a
    // regression under the rule as written, and within the noise when asked.
    let noisy = scaled(dir.path(), "noisy", &s, 1.3);
    let n = noisy.to_str().unwrap();
    let (code, _, _) = compare(&[b, b, n, w, "--max-regression", "connect_total.p99=10%"]);
    assert_eq!(
        code, 1,
        "without the noise allowance the rule applies as written"
    );
    let (code, out, _) = compare(&[
        b,
        b,
        n,
        w,
        "--max-regression",
        "connect_total.p99=10%",
        "--noise-aware",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("30.0%"), "spread shown:\n{out}");

    // Rules from a TOML file, and a bad rule is a usage error.
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "max_failure_rate = \"0.5%\"\n[max_regression]\n\"connect_total.p99\" = \"10%\"\n",
    )
    .unwrap();
    let (code, _, _) = compare(&[b, w, "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 1);
    let (code, _, err) = compare(&[b, w, "--max-regression", "connect_total.p42=10%"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("p42"), "{err}");
    // A summary from an unknown layout is refused clearly.
    let mut old = s.clone();
    old.as_object_mut().unwrap().remove("format_version");
    let oldp = dir.path().join("old.json");
    std::fs::write(&oldp, serde_json::to_string(&old).unwrap()).unwrap();
    let (code, _, err) = compare(&[oldp.to_str().unwrap(), w]);
    assert_eq!(code, 2);
    assert!(err.contains("format_version"), "{err}");
}

/// `compare --html`: the bases' and the new run's percentile curves in one
/// self-contained page (SVG inline), drawn from the runs' interval logs.
#[test]
fn compare_html_overlays_base_and_new_curves() {
    let s = crate::common::EmbeddedScenario::new(
        "ov",
        "duration_s = 2",
        "[[fleet]]\nname = \"g\"\ndevices = 40\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 20\nstages = [{ to_rate = 20, over_s = 2 }]",
    );
    let dir = &s.dir;
    for _ in 0..2 {
        let out = bin()
            .args(["run", s.scenario.to_str().unwrap(), "--quiet", "--no-tui"])
            .output()
            .unwrap();
        crate::common::assert_ok(&out);
    }
    let mut runs: Vec<_> = std::fs::read_dir(s.results())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    let html = dir.path().join("cmp.html");
    let (code, _, err) = compare(&[
        runs[0].to_str().unwrap(),
        runs[1].to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 1);
    assert!(page.contains("connect_total (new)") && page.contains("connect_total (base)"));
    assert!(!page.contains("src=") && !page.contains("href="));
    // Summary files alone have no curves: a clear error.
    let (code, _, err) = compare(&[
        runs[0].join("summary.json").to_str().unwrap(),
        runs[1].to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--html needs run directories"), "{err}");
}
