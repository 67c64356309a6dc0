//! Loading a scenario: TOML parse errors and semantic errors both name the
//! file, line and column, and say what was expected.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::schema::*;
use super::thresholds::{self, Threshold};
use super::ScenarioError;
use crate::pki::regions;
use crate::trust::BUILTIN;

/// A fleet group, validated.
#[derive(Clone, Debug)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Devices.
    pub devices: u64,
    /// Trust profile name.
    pub profile: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Endpoint before any migration.
    pub endpoint: EndpointChoice,
    /// Region.
    pub region: String,
    /// What the device offers on ATS.
    pub ats_key: AtsKey,
    /// Mutual TLS.
    pub mtls: bool,
    /// Client id template.
    pub client_id: String,
    /// Keep alive, s.
    pub keepalive_s: u16,
    /// Hold time.
    pub hold: Duration,
    /// PUBLISH per second while connected.
    pub publish_per_s: f64,
    /// Offer TLS 1.3.
    pub tls13: bool,
    /// Offer TLS 1.2.
    pub tls12: bool,
}

/// Where the devices connect.
#[derive(Debug)]
pub struct Target {
    /// Embedded or external.
    pub kind: TargetKind,
    /// Account prefix.
    pub account_prefix: String,
    /// External addresses.
    pub addresses: Vec<SocketAddr>,
    /// SNI overrides.
    pub sni_legacy: Option<String>,
    /// SNI overrides.
    pub sni_ats: Option<String>,
    /// PKI directory.
    pub pki: Option<PathBuf>,
    /// Shared client certificate and key files.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Directory of per-device certificate/key pairs.
    pub client_cert_dir: Option<PathBuf>,
    /// ALPN to offer.
    pub alpn: Option<String>,
    /// Embedded endpoint settings.
    pub endpoint: EmbeddedEndpoint,
}

/// Arrivals, validated.
#[derive(Clone, Debug)]
pub struct ArrivalSpec {
    /// Mode.
    pub mode: ArrivalMode,
    /// Rate at t = 0.
    pub start_rate: f64,
    /// (rate at end, length s).
    pub stages: Vec<(f64, f64)>,
    /// 0: no cap.
    pub max_in_flight: u64,
}

/// Migration, validated.
#[derive(Clone, Debug)]
pub struct MigrationSpec {
    /// Indices of migrating groups.
    pub groups: Vec<usize>,
    /// (at s, fraction), sorted.
    pub schedule: Vec<(f64, f64)>,
    /// Fraction flipping at each reconnect.
    pub flip_fraction: f64,
}

impl MigrationSpec {
    /// Fraction on ATS at `t` seconds.
    pub fn fraction_at(&self, t: f64) -> f64 {
        self.schedule
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map(|(_, f)| *f)
            .unwrap_or(0.0)
    }
}

/// A validated scenario.
#[derive(Debug)]
pub struct Scenario {
    /// File it came from.
    pub path: PathBuf,
    /// Its text, copied into the results.
    pub source: String,
    /// Name.
    pub name: String,
    /// Seed.
    pub seed: u64,
    /// Arrivals stop and holds end after this.
    pub duration: Duration,
    /// Time allowed to finish in-flight attempts.
    pub drain: Duration,
    /// Results root.
    pub output_dir: PathBuf,
    /// Snapshot interval.
    pub interval: Duration,
    /// Phase timeouts: dial, TLS, MQTT.
    pub timeouts: (Duration, Duration, Duration),
    /// Target.
    pub target: Target,
    /// Groups.
    pub groups: Vec<Group>,
    /// Arrivals.
    pub arrival: ArrivalSpec,
    /// Reconnects.
    pub reconnect: Reconnect,
    /// Migration.
    pub migration: Option<MigrationSpec>,
    /// Thresholds.
    pub thresholds: Vec<Threshold>,
}

impl Scenario {
    /// Devices in all groups.
    pub fn total_devices(&self) -> u64 {
        self.groups.iter().map(|g| g.devices).sum()
    }
}

/// 1-based line and column of a byte offset.
/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line,
            col,
            message: message.into(),
        }
    }

    fn positive(&self, v: &Spanned<f64>, what: &str) -> Result<f64, ScenarioError> {
        let x = *v.get_ref();
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            Err(self.err(v.span(), format!("{what} must be a number > 0, got {x}")))
        }
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Validates scenario text (`path` is used in messages): TOML first, then
/// one step per section.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx { path, text };
    let mut file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ScenarioError::Invalid {
            path: path.to_path_buf(),
            line,
            col,
            message: e.message().trim().lines().collect::<Vec<_>>().join("; "),
        }
    })?;
    let run = run_section(&cx, &file.run)?;
    let groups = fleet_section(&cx, &file.fleet)?;
    let arrival = arrival_section(&cx, &file.arrival)?;
    let reconnect = reconnect_section(&cx, &file.reconnect)?;
    let migration = migration_section(&cx, file.migration.as_ref(), &groups)?;
    let thresholds = thresholds_section(&cx, &file.thresholds)?;
    let target = target_section(&cx, &mut file.target)?;
    Ok(Scenario {
        path: path.to_path_buf(),
        source: text.to_string(),
        name: file.run.name.clone(),
        seed: file.run.seed,
        duration: run.duration,
        drain: run.drain,
        output_dir: PathBuf::from(&file.run.output_dir),
        interval: run.interval,
        timeouts: run.timeouts,
        target,
        groups,
        arrival,
        reconnect,
        migration,
        thresholds,
    })
}

/// The `[run]` durations, checked.
struct RunTimes {
    duration: Duration,
    drain: Duration,
    interval: Duration,
    timeouts: (Duration, Duration, Duration),
}

fn finite_at_least(v: f64, min: f64, strict: bool) -> bool {
    v.is_finite() && if strict { v > min } else { v >= min }
}

fn run_section(cx: &Ctx<'_>, run: &RunSection) -> Result<RunTimes, ScenarioError> {
    let path = cx.path;
    let duration = cx.positive(&run.duration_s, "run.duration_s")?;
    let ok = finite_at_least;
    if !ok(run.drain_timeout_s, 0.0, false)
        || !ok(run.interval_s, 0.0, true)
        || ![run.dial_timeout_s, run.tls_timeout_s, run.mqtt_timeout_s]
            .into_iter()
            .all(|t| ok(t, 0.0, true))
    {
        return Err(ScenarioError::Semantic {
            path: path.to_path_buf(),
            message:
                "run.drain_timeout_s must be >= 0; run.interval_s and the *_timeout_s must be > 0"
                    .into(),
        });
    }
    Ok(RunTimes {
        duration: Duration::from_secs_f64(duration),
        drain: Duration::from_secs_f64(run.drain_timeout_s),
        interval: Duration::from_secs_f64(run.interval_s),
        timeouts: (
            Duration::from_secs_f64(run.dial_timeout_s),
            Duration::from_secs_f64(run.tls_timeout_s),
            Duration::from_secs_f64(run.mqtt_timeout_s),
        ),
    })
}

fn fleet_section(
    cx: &Ctx<'_>,
    fleet: &[toml::Spanned<FleetGroup>],
) -> Result<Vec<Group>, ScenarioError> {
    let path = cx.path;
    let ok = finite_at_least;
    if fleet.is_empty() {
        return Err(ScenarioError::Semantic {
            path: path.to_path_buf(),
            message: "at least one [[fleet]] group is required".into(),
        });
    }
    let mut groups = Vec::new();
    for g in fleet {
        let span = g.span();
        let g = g.get_ref();
        if groups.iter().any(|x: &Group| x.name == g.name) {
            return Err(cx.err(span, format!("fleet group name {:?} is used twice", g.name)));
        }
        if *g.devices.get_ref() == 0 {
            return Err(cx.err(g.devices.span(), "devices must be > 0"));
        }
        let profile = g.profile.get_ref();
        let known = BUILTIN
            .iter()
            .any(|(n, _)| n == profile && *n != "pem:PATH");
        if !known && !profile.starts_with("pem:") {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            return Err(cx.err(
                g.profile.span(),
                format!(
                    "unknown trust profile {profile:?} (expected one of: {})",
                    names.join(", ")
                ),
            ));
        }
        if let Some(p) = profile.strip_prefix("pem:") {
            let p = resolve(path, p);
            if !p.exists() {
                return Err(cx.err(g.profile.span(), format!("{}: no such file", p.display())));
            }
        }
        let region = g.region.get_ref();
        if !regions::is_known(region) {
            return Err(cx.err(g.region.span(), format!("unknown region {region:?}")));
        }
        if g.endpoint == EndpointChoice::Legacy && !regions::has_legacy_endpoint(region) {
            return Err(cx.err(
                g.region.span(),
                format!(
                    "region {region:?} has no legacy (VeriSign) endpoint; use endpoint = \"ats\""
                ),
            ));
        }
        let (mut tls13, mut tls12) = (false, false);
        for v in &g.tls_versions {
            match v.get_ref().as_str() {
                "1.3" => tls13 = true,
                "1.2" => tls12 = true,
                other => {
                    return Err(cx.err(
                        v.span(),
                        format!("TLS version {other:?}: expected \"1.3\" or \"1.2\""),
                    ))
                }
            }
        }
        if !(tls13 || tls12) {
            return Err(cx.err(span, "tls_versions must name at least one version"));
        }
        if !ok(g.hold_s, 0.0, false) || !ok(g.publish_per_s, 0.0, false) {
            return Err(cx.err(span, "hold_s and publish_per_s must be >= 0"));
        }
        groups.push(Group {
            name: g.name.clone(),
            devices: *g.devices.get_ref(),
            profile: profile.clone(),
            protocol: g.protocol,
            endpoint: g.endpoint,
            region: region.clone(),
            ats_key: g.ats_key,
            mtls: g.mtls,
            client_id: g.client_id.clone(),
            keepalive_s: g.keepalive_s,
            hold: Duration::from_secs_f64(g.hold_s),
            publish_per_s: g.publish_per_s,
            tls13,
            tls12,
        });
    }
    Ok(groups)
}

fn arrival_section(cx: &Ctx<'_>, arrival: &Arrival) -> Result<ArrivalSpec, ScenarioError> {
    let path = cx.path;
    let mut stages = Vec::new();
    for s in &arrival.stages {
        let rate = *s.to_rate.get_ref();
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(cx.err(
                s.to_rate.span(),
                format!("to_rate must be >= 0, got {rate}"),
            ));
        }
        stages.push((rate, cx.positive(&s.over_s, "over_s")?));
    }
    if arrival.mode == ArrivalMode::Rate {
        let any_rate = arrival.start_rate > 0.0 || stages.iter().any(|(r, _)| *r > 0.0);
        if stages.is_empty() || !any_rate || arrival.start_rate < 0.0 {
            return Err(ScenarioError::Semantic {
                path: path.to_path_buf(),
                message: "arrival.mode = \"rate\" needs stages with a rate > 0".into(),
            });
        }
    }
    Ok(ArrivalSpec {
        mode: arrival.mode,
        start_rate: arrival.start_rate,
        stages,
        max_in_flight: arrival.max_in_flight,
    })
}

fn reconnect_section(
    cx: &Ctx<'_>,
    r: &super::schema::Reconnect,
) -> Result<Reconnect, ScenarioError> {
    let path = cx.path;
    if r.policy == ReconnectPolicy::Backoff && !(r.base_ms > 0.0 && r.cap_ms >= r.base_ms) {
        return Err(ScenarioError::Semantic {
            path: path.to_path_buf(),
            message: "reconnect: base_ms must be > 0 and cap_ms >= base_ms".into(),
        });
    }
    Ok(Reconnect {
        policy: r.policy,
        base_ms: r.base_ms,
        cap_ms: r.cap_ms,
        max_attempts: r.max_attempts.max(1),
    })
}

fn migration_section(
    cx: &Ctx<'_>,
    migration: Option<&Migration>,
    groups: &[Group],
) -> Result<Option<MigrationSpec>, ScenarioError> {
    Ok(match migration {
        None => None,
        Some(m) => {
            let mut idx = Vec::new();
            for name in &m.groups {
                match groups.iter().position(|g| &g.name == name.get_ref()) {
                    Some(i) => idx.push(i),
                    None => {
                        return Err(cx.err(
                            name.span(),
                            format!("no fleet group named {:?}", name.get_ref()),
                        ))
                    }
                }
            }
            if m.groups.is_empty() {
                idx = (0..groups.len())
                    .filter(|i| groups[*i].endpoint == EndpointChoice::Legacy)
                    .collect();
            }
            let mut schedule = Vec::new();
            for p in &m.schedule {
                let f = *p.fraction.get_ref();
                if !(0.0..=1.0).contains(&f) {
                    return Err(cx.err(
                        p.fraction.span(),
                        format!("fraction must be between 0 and 1, got {f}"),
                    ));
                }
                schedule.push((p.at_s, f));
            }
            schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
            Some(MigrationSpec {
                groups: idx,
                schedule,
                flip_fraction: m.flip_fraction.clamp(0.0, 1.0),
            })
        }
    })
}

fn thresholds_section(
    cx: &Ctx<'_>,
    thresholds: &std::collections::BTreeMap<String, toml::Spanned<String>>,
) -> Result<Vec<Threshold>, ScenarioError> {
    let mut thresholds_out = Vec::new();
    for (k, v) in thresholds {
        let t = thresholds::parse(k, v.get_ref()).map_err(|m| cx.err(v.span(), m.0))?;
        thresholds_out.push(t);
    }
    Ok(thresholds_out)
}

fn target_section(cx: &Ctx<'_>, t: &mut TargetSection) -> Result<Target, ScenarioError> {
    let path = cx.path;
    let mut addresses = Vec::new();
    for a in &t.addresses {
        let addr: SocketAddr = a.get_ref().parse().map_err(|_| {
            cx.err(
                a.span(),
                format!("{:?} is not an IP:PORT address", a.get_ref()),
            )
        })?;
        addresses.push(addr);
    }
    if t.kind == TargetKind::External && addresses.is_empty() {
        return Err(ScenarioError::Semantic {
            path: path.to_path_buf(),
            message: "target.kind = \"external\" needs target.addresses".into(),
        });
    }
    let client_cert = match (&t.client_cert, &t.client_key) {
        (Some(c), Some(k)) => {
            let (c, k) = (resolve(path, c), resolve(path, k));
            for p in [&c, &k] {
                if !p.exists() {
                    return Err(ScenarioError::Semantic {
                        path: path.to_path_buf(),
                        message: format!("{}: no such file", p.display()),
                    });
                }
            }
            Some((c, k))
        }
        (None, None) => None,
        _ => {
            return Err(ScenarioError::Semantic {
                path: path.to_path_buf(),
                message: "target.client_cert and target.client_key go together".into(),
            })
        }
    };
    let embedded = std::mem::take(&mut t.endpoint);
    if let Err(m) = embedded.faults.validate() {
        return Err(ScenarioError::Semantic {
            path: path.to_path_buf(),
            message: format!("target.endpoint.faults: {m}"),
        });
    }
    Ok(Target {
        kind: t.kind,
        account_prefix: t.account_prefix.clone(),
        addresses,
        sni_legacy: t.sni_legacy.clone(),
        sni_ats: t.sni_ats.clone(),
        pki: t.pki.as_deref().map(|p| resolve(path, p)),
        client_cert,
        client_cert_dir: match &t.client_cert_dir {
            None => None,
            Some(d) => {
                let d = resolve(path, d);
                if !d.is_dir() {
                    return Err(ScenarioError::Semantic {
                        path: path.to_path_buf(),
                        message: format!("{}: no such directory", d.display()),
                    });
                }
                Some(d)
            }
        },
        alpn: t.alpn.clone(),
        endpoint: embedded,
    })
}

/// Paths in a scenario are relative to the scenario file.
fn resolve(scenario: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        scenario.parent().unwrap_or(Path::new(".")).join(p)
    }
}
