//! Shards and merge: two shards of one plan run against one embedded
//! endpoint each; the merge adds their histograms exactly, sums counters,
//! and evaluates thresholds on the whole (where each shard alone fails).

use std::path::Path;
use std::time::Duration;

use chainstorm::engine::Control;
use chainstorm::results::merge;
use chainstorm::runner::{self, RunOptions};

#[test]
fn shards_merge_exactly_and_thresholds_apply_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    chainstorm::pki::PkiBundle::generate(Default::default())
        .unwrap()
        .write_to(&pki)
        .unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "[run]\nname = \"sh\"\nseed = 3\nduration_s = 3\n[target]\nkind = \"embedded\"\npki = \"{}\"\n\
             [[fleet]]\nname = \"a\"\ndevices = 100\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
             [[fleet]]\nname = \"b\"\ndevices = 60\nprofile = \"jdk-8u212\"\nendpoint = \"legacy\"\n\
             [arrival]\nmode = \"rate\"\nstart_rate = 60\nstages = [{{ to_rate = 60, over_s = 3 }}]\n\
             [thresholds]\n\"attempted.count\" = \">= 150\"\n",
            pki.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("results");
    let mut shard_dirs = Vec::new();
    let mut client_ids = 0;
    for i in 0..2 {
        let opts = RunOptions {
            output_dir: Some(out.clone()),
            shard: Some((i, 2)),
            ..RunOptions::default()
        };
        let s = runner::prepare(&scenario, &opts).unwrap();
        let o = runner::run_scenario(s, opts, Control::new(), |_| {}).unwrap();
        assert_eq!(o.summary.shard.as_deref(), Some(format!("{i}/2").as_str()));
        assert_eq!(
            o.summary.verdict,
            chainstorm::results::Verdict::Fail,
            "each shard alone has ~90 attempts < 150"
        );
        client_ids += o.summary.totals.attempted;
        shard_dirs.push(o.dir);
    }
    assert!(shard_dirs[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("sh-shard0of2-"));
    let m = merge::merge(&shard_dirs, &out).unwrap();
    let s = &m.summary;
    assert_eq!(s.totals.attempted, client_ids);
    assert!(s.totals.accounting_ok);
    assert_eq!(
        s.verdict,
        chainstorm::results::Verdict::Pass,
        "{:?}",
        s.thresholds
    );
    assert_eq!(s.shard.as_deref(), Some("merged 2"));
    // Exactness: merged counts and percentiles equal those of the shards'
    // histograms added together.
    let shards: Vec<_> = shard_dirs
        .iter()
        .map(|d| chainstorm::results::Summary::read(d).unwrap())
        .collect();
    let sum = |name: &str| {
        shards
            .iter()
            .flat_map(|x| x.phases.iter())
            .filter(|k| k.phase == name)
            .map(|k| k.count)
            .sum::<u64>()
    };
    let merged = |name: &str| s.phases.iter().find(|k| k.phase == name).unwrap().clone();
    assert_eq!(merged("connect_total").count, sum("connect_total"));
    assert_eq!(merged("chain_validation").count, sum("chain_validation"));
    let fails: u64 = s
        .failures
        .iter()
        .filter(|f| f.cause.to_string() == "distrusted(SYMANTEC_TLS)")
        .map(|f| f.count)
        .sum();
    assert_eq!(fails, 60);
    let p99 = merged("connect_total").p99;
    let lo = shards
        .iter()
        .map(|x| {
            x.phases
                .iter()
                .find(|k| k.phase == "connect_total")
                .unwrap()
                .p99
        })
        .min()
        .unwrap();
    let hi = shards
        .iter()
        .map(|x| {
            x.phases
                .iter()
                .find(|k| k.phase == "connect_total")
                .unwrap()
                .p99
        })
        .max()
        .unwrap();
    assert!(
        lo <= p99 && p99 <= hi,
        "merged p99 {p99} between the shards' {lo}..{hi}"
    );
    for f in [
        "latency.hlog",
        "timeseries.csv",
        "summary.json",
        "scenario.toml",
    ] {
        assert!(m.dir.join(f).exists(), "{f}");
    }
    let _ = (Path::new("."), Duration::ZERO);
}
