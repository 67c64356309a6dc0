//! Loading a scenario: TOML parse errors and semantic errors both name the
//! file, line and column, and say what was expected.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::check::{limits, line_col, Bounds, Ctx, Seg};
use super::fleet::fleet_section;
use super::schema::*;
use super::thresholds::{self, Threshold};
use super::types::*;
use super::ScenarioError;

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
    let groups = fleet_section(&cx, &file.fleet, run.timeouts)?;
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
    let TargetFiles {
        pki,
        client_cert,
        client_cert_dir,
    } = target_files(cx, t)?;
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

/// The files `[target]` names, resolved against the scenario and checked
/// to exist.
struct TargetFiles {
    pki: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    client_cert_dir: Option<PathBuf>,
}

fn target_files(cx: &Ctx<'_>, t: &TargetSection) -> Result<TargetFiles, ScenarioError> {
    let path = cx.path;
    let at = |k| [Seg::Key("target"), Seg::Key(k)];
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
    Ok(TargetFiles {
        pki,
        client_cert,
        client_cert_dir,
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
