//! Loading a scenario: TOML parse errors and semantic errors both name the
//! file, line and column, and say what was expected.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::check::{limits, Bounds, Ctx, Seg};
use super::schema::*;
use super::thresholds::{self, Threshold};
use super::ScenarioError;
use crate::client::{GroupOffer, KeyOffer, SuiteOffer};
use crate::metrics::PinTarget;
use crate::model::{parse_clock, DeviceModel, ModelParts, PinKey, PinSpec};
use crate::pki::{regions, Role};
use crate::trust::{PathBuilder, ProfileRef, BUILTIN};

/// A fleet group, validated.
#[derive(Clone, Debug)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Devices.
    pub devices: u64,
    /// Profile or model name as the scenario gives it (results label
    /// groups with it).
    pub profile: String,
    /// The device model: the named one (a plain profile is rustls over that
    /// store) with the scenario's `[fleet.model]` parts.
    pub model: DeviceModel,
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

    /// The groups' names, in order (series keys index into it).
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }
}

impl ArrivalSpec {
    /// The highest arrival rate the stages reach, per second (a storm has
    /// no rate: infinite).
    pub fn peak_rate(&self) -> f64 {
        match self.mode {
            ArrivalMode::Storm => f64::INFINITY,
            ArrivalMode::Rate => self
                .stages
                .iter()
                .map(|(r, _)| *r)
                .fold(self.start_rate, f64::max),
        }
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
    let cx = Ctx::new(path, text);
    let mut file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ScenarioError::Invalid {
            path: path.to_path_buf(),
            line,
            col,
            message: super::check::capped(
                e.message().trim().lines().collect::<Vec<_>>().join("; "),
            ),
        }
    })?;
    let run = run_section(&cx, &file.run)?;
    let groups = fleet_section(&cx, &file.fleet)?;
    let arrival = arrival_section(&cx, &file.arrival, run.duration)?;
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

fn run_section(cx: &Ctx<'_>, run: &RunSection) -> Result<RunTimes, ScenarioError> {
    let at = |k| [Seg::Key("run"), Seg::Key(k)];
    let secs = |k, v, b| cx.number(&at(k), v, b).map(Duration::from_secs_f64);
    Ok(RunTimes {
        duration: secs(
            "duration_s",
            *run.duration_s.get_ref(),
            Bounds::above(0.0, limits::MAX_DURATION_S),
        )?,
        drain: secs(
            "drain_timeout_s",
            run.drain_timeout_s,
            Bounds::closed(0.0, limits::MAX_TIMEOUT_S),
        )?,
        interval: secs(
            "interval_s",
            run.interval_s,
            Bounds::closed(limits::INTERVAL_S.0, limits::INTERVAL_S.1),
        )?,
        timeouts: (
            secs(
                "dial_timeout_s",
                run.dial_timeout_s,
                Bounds::above(0.0, limits::MAX_TIMEOUT_S),
            )?,
            secs(
                "tls_timeout_s",
                run.tls_timeout_s,
                Bounds::above(0.0, limits::MAX_TIMEOUT_S),
            )?,
            secs(
                "mqtt_timeout_s",
                run.mqtt_timeout_s,
                Bounds::above(0.0, limits::MAX_TIMEOUT_S),
            )?,
        ),
    })
}

fn fleet_section(
    cx: &Ctx<'_>,
    fleet: &[toml::Spanned<FleetGroup>],
) -> Result<Vec<Group>, ScenarioError> {
    if fleet.is_empty() {
        return Err(cx.err(0..0, "at least one [[fleet]] group is required"));
    }
    if fleet.len() > limits::MAX_GROUPS {
        return Err(cx.err_at(
            &[Seg::Key("fleet"), Seg::Index(limits::MAX_GROUPS)],
            format!(
                "{} fleet groups; allowed: at most {}",
                fleet.len(),
                limits::MAX_GROUPS
            ),
        ));
    }
    let mut groups = Vec::new();
    let mut total: u64 = 0;
    for (i, g) in fleet.iter().enumerate() {
        let span = g.span();
        let g = g.get_ref();
        let at = |k| [Seg::Key("fleet"), Seg::Index(i), Seg::Key(k)];
        if groups.iter().any(|x: &Group| x.name == g.name) {
            return Err(cx.err(span, format!("fleet group name {:?} is used twice", g.name)));
        }
        let devices = cx.count(&at("devices"), *g.devices.get_ref(), 1, limits::MAX_DEVICES)?;
        total += devices;
        if total > limits::MAX_DEVICES {
            return Err(cx.err(
                g.devices.span(),
                format!(
                    "the fleet has {total} devices up to this group; allowed: at most {} in all",
                    limits::MAX_DEVICES
                ),
            ));
        }
        let profile = g.profile.get_ref();
        let mut model = fleet_model(cx, g)?;
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
        if let Some(versions) = &g.tls_versions {
            let (mut tls13, mut tls12) = (false, false);
            for v in versions {
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
            model.caps.tls13 = tls13;
            model.caps.tls12 = tls12;
        }
        if g.ats_key == AtsKey::Ecc {
            model.caps.schemes = KeyOffer::EcdsaOnly;
        }
        let hold = cx.number(
            &at("hold_s"),
            g.hold_s,
            Bounds::closed(0.0, limits::MAX_DURATION_S),
        )?;
        let publish = g.publish_per_s;
        if publish != 0.0 {
            let (lo, hi) = limits::PUBLISH_PER_S;
            cx.number(&at("publish_per_s"), publish, Bounds::closed(lo, hi))
                .map_err(|_| {
                    cx.err_at(
                        &at("publish_per_s"),
                        format!(
                            "fleet[{i}].publish_per_s = {}: allowed 0 (off) or {lo} <= publish_per_s <= {hi}",
                            super::check::num(publish)
                        ),
                    )
                })?;
        }
        check_client_id(cx, &at("client_id"), &g.client_id, &g.name, devices)?;
        groups.push(Group {
            name: g.name.clone(),
            devices,
            profile: profile.clone(),
            model,
            protocol: g.protocol,
            endpoint: g.endpoint,
            region: region.clone(),
            ats_key: g.ats_key,
            mtls: g.mtls,
            client_id: g.client_id.clone(),
            keepalive_s: g.keepalive_s,
            hold: Duration::from_secs_f64(hold),
            publish_per_s: publish,
        });
    }
    Ok(groups)
}

/// The group's device model: `profile` names a built-in model or a trust
/// profile, and `[fleet.model]` replaces parts of it.
fn fleet_model(cx: &Ctx<'_>, g: &FleetGroup) -> Result<DeviceModel, ScenarioError> {
    let name = g.profile.get_ref();
    let base = if DeviceModel::is_builtin(name) {
        DeviceModel::named(name)
    } else {
        DeviceModel::from_profile(check_profile(cx, &g.profile)?)
    };
    let Some(t) = &g.model else {
        return Ok(base);
    };
    let parts = model_parts(cx, t)?;
    Ok(base.compose(name, &parts))
}

/// A trust profile: built in, or `pem:PATH` naming a readable bundle
/// (relative to the scenario's directory).
fn check_profile(cx: &Ctx<'_>, p: &toml::Spanned<String>) -> Result<ProfileRef, ScenarioError> {
    let profile = p.get_ref();
    let base = cx.path.parent().unwrap_or(Path::new("."));
    let r = ProfileRef::parse(profile, Some(base));
    if let ProfileRef::Named(_) = r {
        if r.is_builtin() {
            return Ok(r);
        }
        let names: Vec<&str> = BUILTIN
            .iter()
            .chain([&ProfileRef::PEM_USAGE])
            .map(|(n, _)| *n)
            .collect();
        let models: Vec<&str> = crate::model::BUILTIN_MODELS
            .iter()
            .map(|m| m.name)
            .collect();
        return Err(cx.err(
            p.span(),
            format!(
                "unknown trust profile or device model {profile:?} (profiles: {}; models: {})",
                names.join(", "),
                models.join(", ")
            ),
        ));
    }
    if let ProfileRef::Pem(path) = &r {
        crate::trust::read_pem_bundle(path).map_err(|e| cx.err(p.span(), e.to_string()))?;
    }
    Ok(r)
}

/// One of `choices` (name, value), or an error listing them.
fn choice<T: Copy>(
    cx: &Ctx<'_>,
    key: &str,
    v: &toml::Spanned<String>,
    choices: &[(&str, T)],
) -> Result<T, ScenarioError> {
    choices
        .iter()
        .find(|(n, _)| *n == v.get_ref())
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            cx.err(
                v.span(),
                format!(
                    "{key} = {:?}: expected one of {}",
                    v.get_ref(),
                    names.join(", ")
                ),
            )
        })
}

fn model_parts(cx: &Ctx<'_>, t: &ModelTable) -> Result<ModelParts, ScenarioError> {
    let mut parts = ModelParts::default();
    if let Some(trust) = &t.trust {
        parts.trust = Some(check_profile(cx, trust)?);
    }
    if let Some(b) = &t.path_builder {
        let all: Vec<(&str, PathBuilder)> =
            PathBuilder::ALL.iter().map(|b| (b.name(), *b)).collect();
        parts.builder = Some(choice(cx, "path_builder", b, &all)?);
    }
    if let Some(n) = &t.input_buffer {
        let v = *n.get_ref();
        parts.input_buffer = Some(match v {
            0 => None,
            512..=16_384 => Some(v as u32),
            _ => {
                return Err(cx.err(
                    n.span(),
                    format!(
                        "input_buffer = {v}: allowed 0 (no limit) or 512 <= input_buffer <= 16384"
                    ),
                ))
            }
        });
    }
    if let Some(c) = &t.clock {
        parts.clock = Some(parse_clock(c.get_ref()).map_err(|e| cx.err(c.span(), e.to_string()))?);
    }
    if let Some(v) = &t.suites {
        parts.suites = Some(choice(
            cx,
            "suites",
            v,
            &[
                ("any", SuiteOffer::Any),
                ("ecdhe-ecdsa", SuiteOffer::EcdheEcdsa),
                ("ecdhe-rsa", SuiteOffer::EcdheRsa),
            ],
        )?);
    }
    if let Some(v) = &t.schemes {
        parts.schemes = Some(choice(
            cx,
            "schemes",
            v,
            &[
                ("any", KeyOffer::Any),
                ("ecdsa", KeyOffer::EcdsaOnly),
                ("no-rsa-pss", KeyOffer::NoRsaPss),
            ],
        )?);
    }
    if let Some(v) = &t.groups {
        parts.groups = Some(choice(
            cx,
            "groups",
            v,
            &[("any", GroupOffer::Any), ("p256", GroupOffer::P256)],
        )?);
    }
    parts.sni = t.sni;
    parts.alpn = t.alpn;
    if let Some(m) = &t.max_fragment_length {
        let v = *m.get_ref();
        if ![512, 1024, 2048, 4096].contains(&v) {
            return Err(cx.err(
                m.span(),
                format!("max_fragment_length = {v}: RFC 6066 allows 512, 1024, 2048 or 4096"),
            ));
        }
        parts.max_fragment_length = Some(v as u16);
    }
    if let Some(pins) = &t.pins {
        let mut out = Vec::new();
        for p in pins {
            let target = PinTarget::parse(p.target.get_ref()).ok_or_else(|| {
                cx.err(
                    p.target.span(),
                    format!(
                        "pin target {:?}: expected leaf, intermediate or root",
                        p.target.get_ref()
                    ),
                )
            })?;
            let key = match (&p.cert, &p.spki_sha256) {
                (Some(c), None) => {
                    let role = Role::ALL
                        .into_iter()
                        .find(|r| r.name() == c.get_ref())
                        .ok_or_else(|| {
                            cx.err(
                                c.span(),
                                format!(
                                    "pin cert {:?}: not a certificate of the mock PKI (see `chainstorm pki show`)",
                                    c.get_ref()
                                ),
                            )
                        })?;
                    PinKey::Cert(role)
                }
                (None, Some(h)) => {
                    let bytes = hex::decode(h.get_ref())
                        .ok()
                        .and_then(|v| <[u8; 32]>::try_from(v).ok())
                        .ok_or_else(|| {
                            cx.err(h.span(), "spki_sha256: expected 64 hex digits".to_string())
                        })?;
                    PinKey::Sha256(bytes)
                }
                _ => {
                    return Err(cx.err(
                        p.target.span(),
                        "a pin names exactly one of cert or spki_sha256".to_string(),
                    ))
                }
            };
            out.push(PinSpec { target, key });
        }
        parts.pins = Some(out);
    }
    Ok(parts)
}

/// A client-id template renders, for the first and the last device, to
/// valid ids: at most 128 bytes (AWS IoT's limit), no NUL, and a bounded
/// `{index:0N}` width.
fn check_client_id(
    cx: &Ctx<'_>,
    at: &[Seg<'_>],
    template: &str,
    group: &str,
    devices: u64,
) -> Result<(), ScenarioError> {
    let mut rest = template;
    while let Some(start) = rest.find("{index:0") {
        let tail = &rest[start + 8..];
        let end = tail.find('}').unwrap_or(tail.len());
        match tail[..end].parse::<usize>() {
            Ok(w) if w <= limits::MAX_INDEX_WIDTH => {}
            _ => {
                return Err(cx.err_at(
                    at,
                    format!(
                        "client_id: {{index:0{}}} is not a width from 1 to {}",
                        &tail[..end.min(20)],
                        limits::MAX_INDEX_WIDTH
                    ),
                ))
            }
        }
        rest = &tail[end..];
    }
    let last = u32::try_from(devices.saturating_sub(1)).unwrap_or(u32::MAX);
    for index in [0, last] {
        let id = super::plan::render_client_id(template, group, index);
        if id.is_empty() || id.len() > limits::MAX_CLIENT_ID || id.contains('\0') {
            return Err(cx.err_at(
                at,
                format!(
                    "client_id renders to {:?} for device {index} ({} bytes); allowed: 1 to {} bytes, no NUL",
                    id.chars().take(40).collect::<String>(),
                    id.len(),
                    limits::MAX_CLIENT_ID
                ),
            ));
        }
    }
    Ok(())
}

fn arrival_section(
    cx: &Ctx<'_>,
    arrival: &Arrival,
    duration: Duration,
) -> Result<ArrivalSpec, ScenarioError> {
    let rate_b = Bounds::closed(0.0, limits::MAX_RATE);
    let start_rate = cx.number(
        &[Seg::Key("arrival"), Seg::Key("start_rate")],
        arrival.start_rate,
        rate_b,
    )?;
    let mut stages = Vec::new();
    for (i, s) in arrival.stages.iter().enumerate() {
        let at = |k| {
            [
                Seg::Key("arrival"),
                Seg::Key("stages"),
                Seg::Index(i),
                Seg::Key(k),
            ]
        };
        let rate = cx.number(&at("to_rate"), *s.to_rate.get_ref(), rate_b)?;
        let over = cx.number(
            &at("over_s"),
            *s.over_s.get_ref(),
            Bounds::above(0.0, limits::MAX_DURATION_S),
        )?;
        stages.push((rate, over));
    }
    cx.count(
        &[Seg::Key("arrival"), Seg::Key("max_in_flight")],
        arrival.max_in_flight,
        0,
        limits::MAX_IN_FLIGHT,
    )?;
    let spec = ArrivalSpec {
        mode: arrival.mode,
        start_rate,
        stages,
        max_in_flight: arrival.max_in_flight,
    };
    if arrival.mode == ArrivalMode::Rate {
        if spec.stages.is_empty() {
            return Err(cx.err_at(
                &[Seg::Key("arrival")],
                "arrival.mode = \"rate\" needs at least one stage",
            ));
        }
        // The rates must give at least one arrival within the run.
        let expected = super::plan::expected_arrivals(&spec, duration);
        if expected < 1.0 {
            return Err(cx.err_at(
                &[Seg::Key("arrival")],
                format!(
                    "the arrival rates give {expected:.3} arrivals in run.duration_s = {}; no device would ever start (need at least 1)",
                    duration.as_secs_f64()
                ),
            ));
        }
    }
    Ok(spec)
}

fn reconnect_section(
    cx: &Ctx<'_>,
    r: &super::schema::Reconnect,
) -> Result<Reconnect, ScenarioError> {
    let at = |k| [Seg::Key("reconnect"), Seg::Key(k)];
    let base = cx.number(
        &at("base_ms"),
        r.base_ms,
        Bounds::above(0.0, limits::MAX_BACKOFF_MS),
    )?;
    let cap = cx.number(
        &at("cap_ms"),
        r.cap_ms,
        Bounds::closed(base, limits::MAX_BACKOFF_MS),
    )?;
    let attempts = cx.count(
        &at("max_attempts"),
        u64::from(r.max_attempts),
        1,
        u64::from(limits::MAX_ATTEMPTS),
    )?;
    Ok(Reconnect {
        policy: r.policy,
        base_ms: base,
        cap_ms: cap,
        max_attempts: attempts as u32,
    })
}

fn migration_section(
    cx: &Ctx<'_>,
    migration: Option<&Migration>,
    groups: &[Group],
) -> Result<Option<MigrationSpec>, ScenarioError> {
    let Some(m) = migration else {
        return Ok(None);
    };
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
    for (i, p) in m.schedule.iter().enumerate() {
        let at = |k| {
            [
                Seg::Key("migration"),
                Seg::Key("schedule"),
                Seg::Index(i),
                Seg::Key(k),
            ]
        };
        let t = cx.number(
            &at("at_s"),
            p.at_s,
            Bounds::closed(0.0, limits::MAX_DURATION_S),
        )?;
        let f = cx.number(
            &at("fraction"),
            *p.fraction.get_ref(),
            Bounds::closed(0.0, 1.0),
        )?;
        schedule.push((t, f));
    }
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    let flip = cx.number(
        &[Seg::Key("migration"), Seg::Key("flip_fraction")],
        m.flip_fraction,
        Bounds::closed(0.0, 1.0),
    )?;
    Ok(Some(MigrationSpec {
        groups: idx,
        schedule,
        flip_fraction: flip,
    }))
}

fn thresholds_section(
    cx: &Ctx<'_>,
    thresholds: &std::collections::BTreeMap<String, toml::Spanned<String>>,
) -> Result<Vec<Threshold>, ScenarioError> {
    let mut thresholds_out = Vec::new();
    for (k, v) in thresholds {
        let t = thresholds::parse(k, v.get_ref()).map_err(|m| cx.err(v.span(), m.to_string()))?;
        thresholds_out.push(t);
    }
    Ok(thresholds_out)
}

/// A DNS name as a TLS client sends it in SNI (or an IP address).
fn check_server_name(cx: &Ctx<'_>, key: &str, name: &str) -> Result<(), ScenarioError> {
    rustls_pki_types::ServerName::try_from(name.to_string())
        .map(|_| ())
        .map_err(|_| {
            cx.err_at(
                &[Seg::Key("target"), Seg::Key(key)],
                format!("target.{key}: {name:?} is not a valid DNS name or IP address"),
            )
        })
}

fn target_section(cx: &Ctx<'_>, t: &mut TargetSection) -> Result<Target, ScenarioError> {
    let path = cx.path;
    let at = |k| [Seg::Key("target"), Seg::Key(k)];
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
        return Err(cx.err_at(
            &at("kind"),
            "target.kind = \"external\" needs target.addresses",
        ));
    }
    // The account prefix is the first DNS label of every endpoint name.
    let prefix = &t.account_prefix;
    let label_ok = !prefix.is_empty()
        && prefix.len() <= 59
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !prefix.starts_with('-');
    if !label_ok {
        return Err(cx.err_at(
            &at("account_prefix"),
            format!("account_prefix {prefix:?}: allowed 1 to 59 letters, digits and inner hyphens (one DNS label before \"-ats\")"),
        ));
    }
    for (k, v) in [("sni_legacy", &t.sni_legacy), ("sni_ats", &t.sni_ats)] {
        if let Some(n) = v {
            check_server_name(cx, k, n)?;
        }
    }
    if let Some(a) = &t.alpn {
        if a.is_empty() || a.len() > 255 {
            return Err(cx.err_at(
                &at("alpn"),
                format!("target.alpn {a:?}: allowed 1 to 255 bytes"),
            ));
        }
    }
    let client_cert = match (&t.client_cert, &t.client_key) {
        (Some(c), Some(k)) => {
            let (c, k) = (resolve(path, c), resolve(path, k));
            for (key, p) in [("client_cert", &c), ("client_key", &k)] {
                if !p.is_file() {
                    return Err(cx.err_at(&at(key), format!("{}: no such file", p.display())));
                }
            }
            Some((c, k))
        }
        (None, None) => None,
        _ => {
            return Err(cx.err_at(
                &at("client_cert"),
                "target.client_cert and target.client_key go together",
            ))
        }
    };
    let pki = match &t.pki {
        None => None,
        Some(p) => {
            let dir = resolve(path, p);
            if !dir.is_dir() {
                return Err(cx.err_at(
                    &at("pki"),
                    format!("{}: no such PKI directory (create one with `chainstorm pki init --out DIR`)", dir.display()),
                ));
            }
            Some(dir)
        }
    };
    let client_cert_dir = match &t.client_cert_dir {
        None => None,
        Some(d) => {
            let d = resolve(path, d);
            if !d.is_dir() {
                return Err(cx.err_at(
                    &at("client_cert_dir"),
                    format!("{}: no such directory", d.display()),
                ));
            }
            Some(d)
        }
    };
    let embedded = std::mem::take(&mut t.endpoint);
    if let Err(e) = embedded.settings.faults.validate() {
        return Err(cx.err_at(
            &[Seg::Key("target"), Seg::Key("endpoint"), Seg::Key("faults")],
            format!("target.endpoint.faults: {e}"),
        ));
    }
    if let Err(e) = embedded.settings.rotation.validate() {
        return Err(cx.err_at(
            &[
                Seg::Key("target"),
                Seg::Key("endpoint"),
                Seg::Key("rotation"),
            ],
            format!("target.endpoint.{e}"),
        ));
    }
    Ok(Target {
        kind: t.kind,
        account_prefix: t.account_prefix.clone(),
        addresses,
        sni_legacy: t.sni_legacy.clone(),
        sni_ats: t.sni_ats.clone(),
        pki,
        client_cert,
        client_cert_dir,
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
