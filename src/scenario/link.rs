//! A fleet group's link: `link = "NAME"` (a named profile), or a
//! `[fleet.link]` table (`profile = "NAME"` to start from, then any of
//! `rtt_ms`, `jitter_ms`, `down_kbps`, `up_kbps`, `loss`, `mtu`), every value
//! range-checked with its position.

use super::check::{Bounds, Ctx, Seg};
use super::ScenarioError;
use crate::link::{limits, profile, Link, PROFILES};

const KEYS: [&str; 7] = [
    "profile",
    "rtt_ms",
    "jitter_ms",
    "down_kbps",
    "up_kbps",
    "loss",
    "mtu",
];

/// The group's link and its name as results print it (`nb-iot`, or
/// `nb-iot+rtt_ms` when a table overrides a profile, `custom` without one).
pub(super) fn link_of(
    cx: &Ctx<'_>,
    group: usize,
    value: Option<&toml::Value>,
) -> Result<(Link, String), ScenarioError> {
    let at = |k: &'static str| {
        [
            Seg::Key("fleet"),
            Seg::Index(group),
            Seg::Key("link"),
            Seg::Key(k),
        ]
    };
    let whole = [Seg::Key("fleet"), Seg::Index(group), Seg::Key("link")];
    let named = |name: &str, path: &[Seg<'_>]| {
        profile(name).map(|p| p.link).ok_or_else(|| {
            let names: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
            cx.err_at(
                path,
                format!("unknown link {name:?} (links: {})", names.join(", ")),
            )
        })
    };
    let table = match value {
        None => return Ok((Link::LOOPBACK, "loopback".into())),
        Some(toml::Value::String(name)) => return Ok((named(name, &whole)?, name.clone())),
        Some(toml::Value::Table(t)) => t,
        Some(_) => {
            return Err(cx.err_at(
                &whole,
                "link: expected a profile name (link = \"nb-iot\") or a [fleet.link] table",
            ))
        }
    };
    for k in table.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(cx.err_at(
                &[
                    Seg::Key("fleet"),
                    Seg::Index(group),
                    Seg::Key("link"),
                    Seg::Key(k),
                ],
                format!("unknown link key {k:?} (allowed: {})", KEYS.join(", ")),
            ));
        }
    }
    let (mut link, mut name) = match table.get("profile") {
        None => (Link::LOOPBACK, "custom".to_string()),
        Some(toml::Value::String(p)) => (named(p, &at("profile"))?, p.clone()),
        Some(_) => return Err(cx.err_at(&at("profile"), "link.profile: expected a link name")),
    };
    let number = |k: &'static str| -> Result<Option<f64>, ScenarioError> {
        match table.get(k) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) => Ok(Some(*n as f64)),
            Some(toml::Value::Float(x)) => Ok(Some(*x)),
            Some(_) => Err(cx.err_at(&at(k), format!("link.{k}: expected a number"))),
        }
    };
    let mut overridden = Vec::new();
    let mut set = |k: &'static str, b: Bounds| -> Result<Option<f64>, ScenarioError> {
        let Some(x) = number(k)? else { return Ok(None) };
        overridden.push(k);
        cx.number(&at(k), x, b).map(Some)
    };
    if let Some(x) = set("rtt_ms", Bounds::closed(0.0, limits::MAX_RTT_MS))? {
        link.rtt_ms = x;
    }
    if let Some(x) = set("jitter_ms", Bounds::closed(0.0, limits::MAX_JITTER_MS))? {
        link.jitter_ms = x;
    }
    // 0 kbit/s: unlimited (as on loopback).
    let rate = Bounds::closed(0.0, limits::MAX_KBPS);
    for (k, slot) in [
        ("down_kbps", &mut link.down_kbps),
        ("up_kbps", &mut link.up_kbps),
    ] {
        if let Some(x) = set(k, rate)? {
            if x != 0.0 && x < limits::MIN_KBPS {
                return Err(cx.err_at(
                    &at(k),
                    format!(
                        "link.{k} = {x}: allowed 0 (unlimited) or {} <= {k} <= {}",
                        limits::MIN_KBPS,
                        limits::MAX_KBPS
                    ),
                ));
            }
            *slot = (x > 0.0).then_some(x);
        }
    }
    if let Some(x) = set("loss", Bounds::closed(0.0, limits::MAX_LOSS))? {
        link.loss = x;
    }
    if let Some(x) = set(
        "mtu",
        Bounds::closed(f64::from(limits::MIN_MTU), f64::from(limits::MAX_MTU)),
    )? {
        if x.fract() != 0.0 {
            return Err(cx.err_at(
                &at("mtu"),
                format!("link.mtu = {x}: a whole number of bytes"),
            ));
        }
        link.mtu = x as u32;
    }
    if name != "custom" && !overridden.is_empty() {
        name = format!("{name}+{}", overridden.join("+"));
    }
    Ok((link, name))
}
