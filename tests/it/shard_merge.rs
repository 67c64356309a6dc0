//! Shards and merge: two shards of one plan run against one embedded
//! endpoint each; the merge adds their histograms exactly, sums counters,
//! and evaluates thresholds on the whole (where each shard alone fails).

use chainstorm::engine::Control;
use chainstorm::results::merge;
use chainstorm::runner::{self, RunOptions};

#[test]
fn shards_merge_exactly_and_thresholds_apply_to_the_whole() {
    let s = crate::common::EmbeddedScenario::new(
        "sh",
        "seed = 3\nduration_s = 3",
        "[[fleet]]\nname = \"a\"\ndevices = 100\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
         [[fleet]]\nname = \"b\"\ndevices = 60\nprofile = \"jdk-8u212\"\nendpoint = \"legacy\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 60\nstages = [{ to_rate = 60, over_s = 3 }]\n\
         [thresholds]\n\"attempted.count\" = \">= 150\"",
    );
    let (scenario, out) = (&s.scenario, s.results());
    let mut shard_dirs = Vec::new();
    let mut client_ids = 0;
    for i in 0..2 {
        let opts = RunOptions {
            output_dir: Some(out.clone()),
            shard: Some(chainstorm::scenario::Shard { index: i, count: 2 }),
            ..RunOptions::default()
        };
        let s = runner::prepare(scenario, &opts).unwrap();
        let o = runner::run_scenario(s, opts, Control::new(), |_| {}).unwrap();
        assert_eq!(
            o.summary.shard.map(|p| p.to_string()),
            Some(format!("{i}/2"))
        );
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
    assert_eq!(s.shard, Some(chainstorm::results::RunPart::Merged(2)));
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
            .filter(|k| k.phase.label() == name)
            .map(|k| k.stats.count)
            .sum::<u64>()
    };
    let merged = |name: &str| {
        s.phases
            .iter()
            .find(|k| k.phase.label() == name)
            .unwrap()
            .clone()
    };
    assert_eq!(merged("connect_total").stats.count, sum("connect_total"));
    assert_eq!(
        merged("chain_validation").stats.count,
        sum("chain_validation")
    );
    let fails: u64 = s
        .failures
        .iter()
        .filter(|f| f.cause.to_string() == "distrusted(SYMANTEC_TLS)")
        .map(|f| f.count)
        .sum();
    assert_eq!(fails, 60);
    let p99 = merged("connect_total").stats.p99;
    let lo = shards
        .iter()
        .map(|x| {
            x.phases
                .iter()
                .find(|k| k.phase == chainstorm::metrics::Phase::ConnectTotal)
                .unwrap()
                .stats
                .p99
        })
        .min()
        .unwrap();
    let hi = shards
        .iter()
        .map(|x| {
            x.phases
                .iter()
                .find(|k| k.phase == chainstorm::metrics::Phase::ConnectTotal)
                .unwrap()
                .stats
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
}

/// One run, one identity: shards of `--run-id` land in OUTPUT/RUN_ID/ and
/// exit 0 whatever their slice's thresholds say; `merge OUTPUT/RUN_ID`
/// gives the run's verdict; missing, duplicate and foreign shards are
/// refused (exit 2) with each problem named.
#[test]
fn merge_takes_exactly_the_shards_of_one_run() {
    let s = crate::common::EmbeddedScenario::new(
        "ids",
        "seed = 5\nduration_s = 2",
        "[[fleet]]\nname = \"a\"\ndevices = 40\nprofile = \"ats-rsa-only\"\nendpoint = \"ats\"\n\
         [arrival]\nmode = \"rate\"\nstart_rate = 20\nstages = [{ to_rate = 20, over_s = 2 }]\n\
         [thresholds]\n\"attempted.count\" = \">= 30\"",
    );
    let (dir, scenario, out) = (&s.dir, &s.scenario, s.results());
    let bin = || crate::common::bin();
    let shard = |i: u32, id: &str| {
        let o = bin()
            .args(["run", scenario.to_str().unwrap(), "--quiet", "--no-tui"])
            .args(["--shard", &format!("{i}/2"), "--run-id", id])
            .args(["--output", out.to_str().unwrap()])
            .output()
            .unwrap();
        // Each slice has ~20 attempts, below the threshold: recorded, not failed.
        crate::common::assert_ok(&o);
    };
    shard(0, "r1");
    shard(1, "r1");
    shard(0, "r2");
    let merge = |args: &[&std::path::Path]| {
        let o = bin()
            .arg("merge")
            .args(args)
            .args(["--output", dir.path().join("merged").to_str().unwrap()])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let r1 = out.join("r1");
    let (code, err) = merge(&[&r1]);
    assert_eq!(code, Some(0), "the whole run meets the threshold: {err}");
    let s0 = crate::common::first_entry(&r1);
    let mut r1_dirs: Vec<_> = std::fs::read_dir(&r1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    r1_dirs.sort();
    let foreign = crate::common::first_entry(&out.join("r2"));
    for (args, want) in [
        (
            vec![
                r1_dirs[0].as_path(),
                r1_dirs[0].as_path(),
                r1_dirs[1].as_path(),
            ],
            "twice",
        ),
        (vec![s0.as_path()], "missing shard(s)"),
        (
            vec![r1_dirs[1].as_path(), foreign.as_path()],
            "foreign shard",
        ),
    ] {
        let (code, err) = merge(&args);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("refusing to merge") && err.contains(want),
            "{err}"
        );
    }
}
