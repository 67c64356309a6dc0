//! The Kubernetes manifests parse, and carry what the shard logic relies
//! on: an Indexed Job whose completions, parallelism and SHARDS agree, a
//! command passing JOB_COMPLETION_INDEX/SHARDS to --shard, the scenario
//! ConfigMap (which must load as a valid scenario) and the shared results
//! volume used by the merge job.

use serde_yaml_ng::Value;

fn docs(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!(
        "{}/deploy/kubernetes/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}")))
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn indexed_job_matches_the_shard_logic() {
    let job_docs = docs("job.yaml");
    let job = find(&job_docs, "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(completions));
    let c = &spec["template"]["spec"]["containers"][0];
    let shards = c["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHARDS")
        .and_then(|e| e["value"].as_str())
        .unwrap();
    assert_eq!(
        shards.parse::<u64>().unwrap(),
        completions,
        "SHARDS == completions"
    );
    let args = c["args"][0].as_str().unwrap();
    assert!(
        args.contains("--shard \"${JOB_COMPLETION_INDEX}/${SHARDS}\""),
        "{args}"
    );
    assert!(
        args.contains("--allow-remote") && args.contains("--max-rate"),
        "remote targets need both"
    );
    assert!(args.contains("/scenario/scenario.toml") && args.contains("--output /results"));
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(mounts.contains(&"/scenario") && mounts.contains(&"/results"));
    let pvc = find(&job_docs, "PersistentVolumeClaim");
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");

    // The scenario in the ConfigMap is valid, and its per-shard peak rate
    // stays under the Job's --max-rate.
    let cm_docs = docs("configmap.yaml");
    let cm = find(&cm_docs, "ConfigMap");
    let toml = cm["data"]["scenario.toml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scenario.toml");
    std::fs::write(&p, toml).unwrap();
    let s = chainstorm::scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
    let peak = s
        .arrival
        .stages
        .iter()
        .map(|(r, _)| *r)
        .fold(s.arrival.start_rate, f64::max);
    let max_rate: f64 = args
        .split("--max-rate ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        peak / completions as f64 <= max_rate,
        "per-shard peak {} > --max-rate {max_rate}",
        peak / completions as f64
    );
    assert_eq!(s.output_dir.to_str(), Some("/results"));

    let merge_docs = docs("merge-job.yaml");
    let merge = find(&merge_docs, "Job");
    let margs = merge["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    assert!(
        margs.contains(&format!("chainstorm merge /results/{}-shard*", s.name)),
        "{margs}"
    );
}
