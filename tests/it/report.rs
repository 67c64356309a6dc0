//! `chainstorm report` on a real short run: the SVGs and report.html are
//! written, are well-formed, fetch nothing, and the HTML renders in headless
//! Chromium; an unreadable results layout is refused clearly.

use crate::common;
use std::process::Command;

use crate::common::bin;

#[test]
fn report_on_a_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    assert!(bin()
        .args(["pki", "init", "--out", pki.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let results = dir.path().join("results");
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "[run]\nname = \"rep\"\nduration_s = 3\noutput_dir = \"{}\"\n[target]\nkind = \"embedded\"\npki = \"{}\"\n\
             [[fleet]]\nname = \"ok\"\ndevices = 80\nprofile = \"dual\"\nendpoint = \"ats\"\nhold_s = 1\n\
             [[fleet]]\nname = \"java\"\ndevices = 40\nprofile = \"jdk-8u212\"\nendpoint = \"legacy\"\n\
             [arrival]\nmode = \"rate\"\nstart_rate = 40\nstages = [{{ to_rate = 40, over_s = 3 }}]\n",
            results.display(),
            pki.display()
        ),
    )
    .unwrap();
    let out = bin()
        .args(["run", scenario.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let run = common::first_entry(&results);
    let out = bin()
        .args(["report", run.to_str().unwrap()])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("distrusted(SYMANTEC_TLS)"), "{text}");
    for svg in [
        "percentiles",
        "throughput",
        "connected",
        "anchors",
        "failures",
    ] {
        let body = std::fs::read_to_string(run.join(format!("{svg}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{svg}.svg: {e}"));
        assert_no_text_overlaps(svg, &doc);
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(
            doc.descendants()
                .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("rect"))
                .count()
                > 2,
            "{svg} has marks"
        );
    }
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5, "SVGs inline");
    assert!(
        !html.contains("src=") && !html.contains("href=") && !html.contains("url("),
        "fetches nothing"
    );
    assert!(html.contains("percentile"));

    // A real browser renders it.
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok());
    match chromium {
        None => crate::common::missing("chromium"),
        Some(b) => {
            let png = dir.path().join("report.png");
            let out = Command::new(b)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1100,2400",
                ])
                .arg(format!(
                    "--user-data-dir={}",
                    dir.path().join("chromium").display()
                ))
                .arg(format!("--screenshot={}", png.display()))
                .arg(format!("file://{}", run.join("report.html").display()))
                .output()
                .unwrap();
            common::assert_ok(&out);
            let img = std::fs::read(&png).unwrap();
            assert!(
                img.len() > 10_000 && img.starts_with(b"\x89PNG"),
                "a rendered page"
            );
        }
    }

    // An unknown results layout: a clear error, exit 2.
    let summary = run.join("summary.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    v["format_version"] = serde_json::json!(99);
    std::fs::write(&summary, v.to_string()).unwrap();
    let out = bin()
        .args(["report", run.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("results format 99"));
}

/// The box a `<text>` element covers, from its position, anchor, baseline
/// shift and font size (glyphs ~0.55 em wide on average in sans-serif);
/// `None` for rotated text (the y-axis titles, alone along their edge).
fn text_box(n: &roxmltree::Node) -> Option<(f64, f64, f64, f64, String)> {
    if n.attribute("transform").is_some() {
        return None;
    }
    let x: f64 = n.attribute("x")?.parse().ok()?;
    let y: f64 = n.attribute("y")?.parse().ok()?;
    let fs: f64 = n.attribute("font-size")?.parse().ok()?;
    let text = n.text()?.trim().to_string();
    let w = 0.55 * fs * text.chars().count() as f64;
    let left = match n.attribute("text-anchor") {
        Some("middle") => x - w / 2.0,
        Some("end") => x - w,
        _ => x,
    };
    let top = match n.attribute("dy") {
        Some("0.76em") => y,
        Some("0.5ex") => y - fs / 2.0,
        Some("-0.5ex") => y - fs,
        _ => y - 0.8 * fs,
    };
    Some((left, top, left + w, top + fs, text))
}

/// No two text boxes of a plot overlap (a legend over a line is allowed;
/// text over text never is).
fn assert_no_text_overlaps(name: &str, doc: &roxmltree::Document) {
    let boxes: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| text_box(&n))
        .collect();
    assert!(!boxes.is_empty(), "{name} has text");
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            // A pixel of slack for the width estimate.
            let apart =
                a.2 <= b.0 + 1.0 || b.2 <= a.0 + 1.0 || a.3 <= b.1 + 1.0 || b.3 <= a.1 + 1.0;
            assert!(apart, "{name}.svg: {:?} overlaps {:?}", a.4, b.4);
        }
    }
}
