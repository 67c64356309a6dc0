//! `[[fleet]]`: each group's count, endpoint, client ids, timing and device
//! model (a named model or trust profile, with `[fleet.model]` parts),
//! checked with positions.

use std::path::Path;
use std::time::Duration;

use super::check::{limits, Bounds, Ctx, Seg};
use super::schema::*;
use super::types::Group;
use super::ScenarioError;
use crate::client::{GroupOffer, KeyOffer, SuiteOffer};
use crate::metrics::PinTarget;
use crate::model::{parse_clock, DeviceModel, ModelParts, PinKey, PinSpec};
use crate::pki::{regions, Role};
use crate::trust::{PathBuilder, ProfileRef, BUILTIN};

pub(super) fn fleet_section(
    cx: &Ctx<'_>,
    fleet: &[toml::Spanned<FleetGroup>],
    run_timeouts: (Duration, Duration, Duration),
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
        let (link, link_name) = super::link::link_of(cx, i, g.link.as_ref())?;
        let timeout = |k: &'static str, v: Option<f64>, default: Duration| match v {
            None => Ok(default),
            Some(s) => cx
                .number(&at(k), s, Bounds::above(0.0, limits::MAX_TIMEOUT_S))
                .map(Duration::from_secs_f64),
        };
        let timeouts = (
            timeout("dial_timeout_s", g.dial_timeout_s, run_timeouts.0)?,
            timeout("tls_timeout_s", g.tls_timeout_s, run_timeouts.1)?,
            timeout("mqtt_timeout_s", g.mqtt_timeout_s, run_timeouts.2)?,
        );
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
            link,
            link_name,
            timeouts,
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
        parts.pins = Some(pins.iter().map(|p| pin(cx, p)).collect::<Result<_, _>>()?);
    }
    Ok(parts)
}

/// One `[[fleet.model.pins]]` entry: a target and exactly one of a mock
/// PKI certificate or an SPKI SHA-256.
fn pin(cx: &Ctx<'_>, p: &PinTable) -> Result<PinSpec, ScenarioError> {
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
    Ok(PinSpec { target, key })
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
