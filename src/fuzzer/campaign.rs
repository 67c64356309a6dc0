//! A fuzz campaign: N cases (or a duration), a fixed concurrency, every case
//! derived from (seed, index) so a seed reproduces the campaign; novelty =
//! a new (operator, class) pair, kept in a corpus; anomalies (hangs) and a
//! target that stops answering become findings with the exact bytes sent.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::classify::send_and_classify;
use super::hello::ClientHello;
use super::mqtt::MqttOp;
use super::mutate::{apply, Mutated, Op};
use super::{Class, Expected};

/// Campaign settings.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// Target address (loopback unless allowed by the caller).
    pub target: SocketAddr,
    /// SNI of the valid ClientHello the mutations start from.
    pub sni: String,
    /// Cases to run.
    pub cases: u64,
    /// Stop after this long even if cases remain.
    pub duration: Option<Duration>,
    /// Cases in flight.
    pub concurrency: usize,
    /// Seed.
    pub seed: u64,
    /// Per-case read timeout.
    pub timeout: Duration,
    /// A health probe after this many cases.
    pub health_every: u64,
    /// Where findings and corpus go (`fuzz-<timestamp>/`).
    pub out: PathBuf,
    /// When set, every fourth case is an MQTT CONNECT mutation sent after a
    /// real TLS handshake made with this configuration.
    pub mqtt: Option<Arc<rustls::ClientConfig>>,
    /// Differential mode: every case also goes to this target.
    pub second: Option<SocketAddr>,
}

/// The operator that made a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseOp {
    /// A ClientHello operator.
    Tls(Op),
    /// A CONNECT operator.
    Mqtt(MqttOp),
}

impl CaseOp {
    /// Parses the name [`Display`](std::fmt::Display) prints.
    pub fn from_name(s: &str) -> Option<CaseOp> {
        Op::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .map(CaseOp::Tls)
            .or_else(|| {
                MqttOp::ALL
                    .into_iter()
                    .find(|o| o.name() == s)
                    .map(CaseOp::Mqtt)
            })
    }
}

impl std::fmt::Display for CaseOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseOp::Tls(o) => f.write_str(&o.name()),
            CaseOp::Mqtt(o) => f.write_str(&o.name()),
        }
    }
}

/// Which layer a case is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Raw bytes instead of a ClientHello.
    Tls,
    /// Bytes after a real handshake, speaking this MQTT version.
    Mqtt(MqttVersion),
}

/// An MQTT version as stored case metadata spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MqttVersion {
    /// 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
    /// 5.0.
    #[serde(rename = "5.0")]
    V5,
}

impl From<crate::mqtt::Protocol> for MqttVersion {
    fn from(p: crate::mqtt::Protocol) -> Self {
        match p {
            crate::mqtt::Protocol::V5 => MqttVersion::V5,
            crate::mqtt::Protocol::V311 => MqttVersion::V311,
        }
    }
}

/// What kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A complete message got no answer, also when replayed alone.
    Hang,
    /// The target stopped answering valid handshakes.
    TargetDown,
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FindingKind::Hang => "hang",
            FindingKind::TargetDown => "target_down",
        })
    }
}

/// One case of either layer, as the campaign stores and classifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnyCase {
    /// Operator (`None` for replayed bytes whose operator is not known).
    pub op: Option<CaseOp>,
    /// What changed.
    pub detail: String,
    /// Bytes sent (after the handshake, for MQTT cases).
    pub bytes: Vec<u8>,
    /// The layer.
    pub layer: Layer,
    /// A timeout is a correct answer for this case (the message is
    /// incomplete, so the server rightly waits for more).
    pub may_wait: bool,
}

/// Case `i` of a campaign, TLS or (when `mqtt`) every fourth one MQTT.
pub fn any_case(seed: u64, i: u64, sni: &str, mqtt: bool) -> AnyCase {
    if mqtt && i % 4 == 3 {
        let mut rng = case_rng(seed, i, 0x4d51_5454);
        let op = MqttOp::ALL[rng.gen_range(0..MqttOp::ALL.len())];
        let m = super::mqtt::apply(op, &format!("fuzz-{seed}-{i}"), &mut rng);
        return AnyCase {
            op: Some(CaseOp::Mqtt(op)),
            detail: m.detail,
            bytes: m.bytes,
            layer: Layer::Mqtt(m.protocol.into()),
            may_wait: op == MqttOp::RemainingLength,
        };
    }
    let m = case(seed, i, sni);
    AnyCase {
        op: Some(CaseOp::Tls(m.op)),
        detail: m.detail,
        may_wait: !complete(&m.bytes),
        bytes: m.bytes,
        layer: Layer::Tls,
    }
}

/// Sends one case and classifies the answer.
pub async fn send_case(
    c: &AnyCase,
    target: SocketAddr,
    sni: &str,
    mqtt: Option<&Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Class {
    match (c.layer, mqtt) {
        (Layer::Mqtt(v), Some(cfg)) => {
            let v5 = v == MqttVersion::V5;
            super::mqtt::send_and_classify(target, sni, cfg.clone(), &c.bytes, v5, timeout).await
        }
        _ => send_and_classify(target, &c.bytes, timeout).await,
    }
}

/// The generator of case `i` of a seed; `salt` separates the layers.
fn case_rng(seed: u64, i: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
}

/// The case with index `i` of a seed.
pub fn case(seed: u64, i: u64, sni: &str) -> Mutated {
    let mut rng = case_rng(seed, i, 0);
    let mut random = [0u8; 32];
    rng.fill_bytes(&mut random);
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let op = Op::ALL[rng.gen_range(0..Op::ALL.len())];
    apply(op, &ClientHello::valid(sni, random, key), &mut rng)
}

impl Report {
    /// The closing text: totals, classes, divergences and findings.
    pub fn render_text(&self, out: &Path) -> String {
        let mut text = format!(
            "{} cases in {:.1}s ({:.0} cases/s), {} classes, {} findings; results in {}\n",
            self.cases,
            self.seconds,
            self.cases_per_s,
            self.classes.len(),
            self.findings.len(),
            out.display()
        );
        for (k, n) in &self.classes {
            text.push_str(&format!("  {k:<60} {n}\n"));
        }
        if self.stopped_early {
            text.push_str(
                "  stopped early (key or signal); the report covers the cases that ran\n",
            );
        }
        for (k, n) in &self.divergent {
            text.push_str(&format!("  DIVERGENT {k:<60} {n}\n"));
        }
        for f in &self.findings {
            text.push_str(&format!(
                "  FINDING {} {} {} ({})\n",
                f.id, f.kind, f.operator, f.detail
            ));
        }
        text
    }

    /// How the class distribution differs from a baseline's, one line per
    /// class; `None` when it matches exactly.
    pub fn baseline_diff(&self, base: &BTreeMap<String, u64>) -> Option<String> {
        if base == &self.classes {
            return None;
        }
        let mut diff = String::from("class distribution differs from the baseline:\n");
        let keys: BTreeSet<&String> = base.keys().chain(self.classes.keys()).collect();
        for k in keys {
            let (b, n) = (
                base.get(k).copied().unwrap_or(0),
                self.classes.get(k).copied().unwrap_or(0),
            );
            if b != n {
                diff.push_str(&format!("  {k}: baseline {b}, now {n}\n"));
            }
        }
        Some(diff)
    }

    /// True when the target went down during the campaign.
    pub fn target_went_down(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.kind == FindingKind::TargetDown)
    }

    /// One line of progress: cases, rate, classes, novelty, findings.
    pub fn progress(&self, planned: u64) -> String {
        format!(
            "{} / {planned} cases   {:.0} cases/s   {} classes   {} novel   {} findings   {} divergent",
            self.cases,
            self.cases_per_s,
            self.classes.len(),
            self.novel.len(),
            self.findings.len(),
            self.divergent.values().sum::<u64>()
        )
    }
}

/// A finding as stored next to its bytes.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Id (file stem).
    pub id: String,
    /// What was found.
    pub kind: FindingKind,
    /// Seed and case index.
    pub seed: u64,
    /// Case index.
    pub case: u64,
    /// Operator name (empty for a target-down finding).
    pub operator: String,
    /// What was changed.
    pub detail: String,
    /// What a correct target answers.
    pub expected: Expected,
    /// What it answered (`None`: the health probes got nothing).
    pub observed: Option<Class>,
    /// ms since the campaign started.
    pub at_ms: u64,
    /// How long the case took from dial to classification, ms.
    #[serde(default)]
    pub case_ms: f64,
    /// Case indices that preceded a target-down finding.
    pub preceding: Vec<u64>,
}

/// What a campaign did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Cases run.
    pub cases: u64,
    /// Wall time, s.
    pub seconds: f64,
    /// Cases per second.
    pub cases_per_s: f64,
    /// Count per `operator|class`.
    pub classes: BTreeMap<String, u64>,
    /// Novel (operator, class) pairs, in order of discovery.
    pub novel: Vec<String>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Differential mode: count per `operator|class here|class there` for
    /// the cases whose classes differ.
    pub divergent: BTreeMap<String, u64>,
    /// Stopped by the caller (a key or a signal) before all cases ran.
    pub stopped_early: bool,
}

fn write_case(dir: &Path, id: &str, bytes: &[u8], f: &impl Serialize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("{id}.bin")), bytes)?;
    std::fs::write(
        dir.join(format!("{id}.json")),
        serde_json::to_string_pretty(f).unwrap_or_default(),
    )
}

/// The health probe: a valid ClientHello must get a ServerHello.
async fn healthy(c: &Campaign, n: u64) -> bool {
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed ^ 0x5eed ^ n);
    let (mut random, mut key) = ([0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut random);
    rng.fill_bytes(&mut key);
    let hello = ClientHello::valid(&c.sni, random, key).encode();
    // A loaded target may be slow; the probe waits longer than a case.
    send_and_classify(c.target, &hello, c.timeout.max(Duration::from_secs(2))).await
        == Class::ServerHello
}

/// True when every record and the handshake message in `bytes` are complete,
/// so a correct server has all it needs to answer. A server that waits for
/// more bytes after a truncated or length-inflated message is correct; one
/// that says nothing to a complete message hangs.
pub fn complete(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    let mut handshake = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 5 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + len {
            return false;
        }
        if rest[0] == 0x16 {
            handshake.extend_from_slice(&rest[5..5 + len]);
        }
        rest = &rest[5 + len..];
    }
    if handshake.len() < 4 {
        return false;
    }
    let hs_len = (usize::from(handshake[1]) << 16)
        | (usize::from(handshake[2]) << 8)
        | usize::from(handshake[3]);
    handshake.len() >= 4 + hs_len
}

/// Runs a campaign.
pub async fn run(c: Campaign) -> std::io::Result<Report> {
    run_with(c, |_| true).await
}

/// Runs a campaign, calling `on_batch` with the report so far after every
/// batch of `health_every` cases (for a progress line or live view); the
/// campaign stops early, still writing its report, when it returns false.
pub async fn run_with(
    c: Campaign,
    mut on_batch: impl FnMut(&Report) -> bool,
) -> std::io::Result<Report> {
    let mut p = Progress::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(c.concurrency.max(1)));
    let mut i = 0u64;
    while i < c.cases && c.duration.is_none_or(|d| p.started.elapsed() < d) {
        // One batch between health probes.
        let end = (i + c.health_every.max(1)).min(c.cases);
        let mut anomaly = false;
        for r in run_batch(&c, i..end, &sem).await {
            anomaly |= p.record(&c, r).await?;
        }
        i = end;
        p.stamp();
        let go_on = on_batch(&p.report);
        if (anomaly || i % c.health_every.max(1) == 0)
            && !healthy(&c, i).await
            && !healthy(&c, i + 1).await
        {
            p.target_down(&c, i)?;
            break;
        }
        if !go_on {
            p.report.stopped_early = true;
            break;
        }
    }
    p.stamp();
    std::fs::create_dir_all(&c.out)?;
    std::fs::write(
        c.out.join("report.json"),
        serde_json::to_string_pretty(&p.report).unwrap_or_default(),
    )?;
    Ok(p.report)
}

/// One case's outcome: its index, the case, its class (and the second
/// target's, in differential mode), and how long it took, ms.
type CaseResult = (u64, AnyCase, Class, Option<Class>, f64);

/// Runs cases `range` at most `concurrency` at a time; results in case
/// order, so novelty and findings do not depend on timing.
async fn run_batch(
    c: &Campaign,
    range: std::ops::Range<u64>,
    sem: &Arc<tokio::sync::Semaphore>,
) -> Vec<CaseResult> {
    let mut set = tokio::task::JoinSet::new();
    for n in range {
        let permit = sem.clone().acquire_owned().await.expect("semaphore open");
        let (target, timeout, sni, seed, mqtt, second) = (
            c.target,
            c.timeout,
            c.sni.clone(),
            c.seed,
            c.mqtt.clone(),
            c.second,
        );
        set.spawn(async move {
            let m = any_case(seed, n, &sni, mqtt.is_some());
            let t0 = Instant::now();
            let class = send_case(&m, target, &sni, mqtt.as_ref(), timeout).await;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            let other = match second {
                Some(t) => Some(send_case(&m, t, &sni, mqtt.as_ref(), timeout).await),
                None => None,
            };
            drop(permit);
            (n, m, class, other, ms)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            results.push(r);
        }
    }
    results.sort_by_key(|r| r.0);
    results
}

/// What a campaign has learnt so far.
struct Progress {
    started: Instant,
    report: Report,
    /// `operator|class` pairs seen.
    seen: BTreeSet<String>,
    /// The last 32 case indices (a target-down finding names them).
    recent: Vec<u64>,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            report: Report::default(),
            seen: BTreeSet::new(),
            recent: Vec::new(),
        }
    }

    fn stamp(&mut self) {
        self.report.seconds = self.started.elapsed().as_secs_f64();
        self.report.cases_per_s = self.report.cases as f64 / self.report.seconds.max(1e-9);
    }

    /// Counts one case: a divergence, its class, a novel pair (kept in the
    /// corpus), and a hang (a finding). True when the case was a hang.
    async fn record(&mut self, c: &Campaign, r: CaseResult) -> std::io::Result<bool> {
        let (n, m, class, other, ms) = r;
        let report = &mut self.report;
        report.cases += 1;
        let op =
            m.op.map(|o| o.to_string())
                .unwrap_or_else(|| "replay".into());
        if let Some(o) = other.filter(|o| *o != class) {
            let key = format!("{op}|{class}|{o}");
            let first = !report.divergent.contains_key(&key);
            *report.divergent.entry(key).or_default() += 1;
            if first {
                let id = format!("divergent-{n:06}-{op}");
                let meta = serde_json::json!({"seed": c.seed, "case": n, "operator": op, "layer": m.layer, "detail": m.detail, "target": class, "second": o});
                write_case(&c.out.join("divergent"), &id, &m.bytes, &meta)?;
            }
        }
        let key = format!("{op}|{class}");
        *report.classes.entry(key.clone()).or_default() += 1;
        if self.seen.insert(key.clone()) {
            report.novel.push(key);
            let id = format!("{n:06}-{op}");
            let meta = serde_json::json!({"seed": c.seed, "case": n, "operator": op, "layer": m.layer, "detail": m.detail, "class": class, "case_ms": ms});
            write_case(&c.out.join("corpus"), &id, &m.bytes, &meta)?;
        }
        self.recent.push(n);
        if self.recent.len() > 32 {
            self.recent.remove(0);
        }
        if !is_hang(c, &m, &class).await {
            return Ok(false);
        }
        let f = Finding {
            id: format!("hang-{n:06}"),
            kind: FindingKind::Hang,
            seed: c.seed,
            case: n,
            operator: op,
            detail: m.detail.clone(),
            expected: if m.layer != Layer::Tls {
                Expected::ConnackOrClose
            } else {
                Expected::AnAnswer
            },
            observed: Some(class),
            at_ms: self.started.elapsed().as_millis() as u64,
            case_ms: ms,
            preceding: vec![],
        };
        write_case(&c.out.join("findings"), &f.id, &m.bytes, &f)?;
        self.report.findings.push(f);
        Ok(true)
    }

    /// Two health probes in a row got no ServerHello: the finding that ends
    /// the campaign, with the cases that preceded it.
    fn target_down(&mut self, c: &Campaign, i: u64) -> std::io::Result<()> {
        let f = Finding {
            id: format!("target-down-{i:06}"),
            kind: FindingKind::TargetDown,
            seed: c.seed,
            case: i,
            operator: String::new(),
            detail: "two health probes in a row got no ServerHello".into(),
            expected: Expected::ServerHello,
            observed: None,
            at_ms: self.started.elapsed().as_millis() as u64,
            case_ms: 0.0,
            preceding: self.recent.clone(),
        };
        write_case(&c.out.join("findings"), &f.id, &[], &f)?;
        self.report.findings.push(f);
        Ok(())
    }
}

/// A timeout under load is often the machine, not the target: a hang is
/// only a case that still gets no answer when replayed alone with four
/// times the timeout (at least 2 s).
async fn is_hang(c: &Campaign, m: &AnyCase, class: &Class) -> bool {
    if !class.is_timeout() || m.may_wait {
        return false;
    }
    let patient = (c.timeout * 4).max(Duration::from_secs(2));
    send_case(m, c.target, &c.sni, c.mqtt.as_ref(), patient)
        .await
        .is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNI: &str = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com";

    #[test]
    fn cases_are_a_function_of_seed_and_index() {
        for i in 0..200 {
            assert_eq!(case(7, i, SNI), case(7, i, SNI));
        }
        let ops: BTreeSet<Op> = (0..2_000).map(|i| case(7, i, SNI).op).collect();
        assert_eq!(ops.len(), Op::ALL.len(), "2000 cases reach every operator");
        assert_ne!(
            (0..50).map(|i| case(7, i, SNI).bytes).collect::<Vec<_>>(),
            (0..50).map(|i| case(8, i, SNI).bytes).collect::<Vec<_>>()
        );
    }

    #[test]
    fn completeness_tells_truncated_from_whole_messages() {
        let whole = ClientHello::valid(SNI, [1; 32], [2; 32]);
        assert!(complete(&whole.encode()));
        assert!(complete(&whole.records(7)));
        let b = whole.encode();
        for cut in [0, 3, 5, 9, b.len() - 1] {
            assert!(!complete(&b[..cut]), "cut at {cut}");
        }
        // Handshake length larger than what was sent: the server waits.
        let mut longer = b.clone();
        longer[8] = longer[8].wrapping_add(3);
        assert!(!complete(&longer));
        // Handshake length shorter: everything announced has arrived.
        let mut shorter = b.clone();
        shorter[8] = shorter[8].wrapping_sub(3);
        assert!(complete(&shorter));
    }
}
