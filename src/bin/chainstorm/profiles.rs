//! `chainstorm profiles`.

use std::process::ExitCode;

use anyhow::Result;

use chainstorm::link::PROFILES;
use chainstorm::model::BUILTIN_MODELS;
use chainstorm::pki::PkiBundle;
use chainstorm::trust::TrustProfile;

use crate::args::ProfilesArgs;

/// Lists the trust profiles with what each trusts and distrusts, the
/// device models with what each imitates and is made of, and the named
/// links with the sources of their numbers.
pub fn profiles(a: ProfilesArgs) -> Result<ExitCode> {
    let bundle = PkiBundle::load_or_cache(a.pki.as_deref())?;
    let mut out = Vec::new();
    for (name, _) in chainstorm::trust::BUILTIN {
        if *name == "system" {
            continue;
        }
        out.push(TrustProfile::resolve(name, &bundle)?);
    }
    let models: Vec<_> = BUILTIN_MODELS.iter().map(|m| (m, m.model())).collect();
    if a.json {
        let models: Vec<_> = models
            .iter()
            .map(|(b, m)| {
                serde_json::json!({
                    "name": b.name,
                    "imitates": b.imitates,
                    "checked_against": b.checked_against,
                    "parts": m.parts_line(),
                })
            })
            .collect();
        let v: Vec<_> = out
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "description": p.description,
                    "anchors": p.anchor_names(),
                    "policies": p.policies.iter().map(|x| serde_json::json!({"name": x.name, "description": x.description})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let links: Vec<_> = PROFILES
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "rtt_ms": p.link.rtt_ms,
                    "jitter_ms": p.link.jitter_ms,
                    "down_kbps": p.link.down_kbps,
                    "up_kbps": p.link.up_kbps,
                    "loss": p.link.loss,
                    "mtu": p.link.mtu,
                    "sources": p.sources.iter().map(|(what, basis, source)| serde_json::json!({"values": what, "basis": basis.label(), "source": source})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({"profiles": v, "models": models, "links": links});
        let text = serde_json::to_string_pretty(&v)?;
        outln!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &out {
        outln!("{:<22} {}", p.name, p.description);
        let anchors = p.anchor_names();
        if anchors.len() > 6 {
            outln!("{:<22}   trusts {} roots", "", anchors.len());
        } else {
            outln!("{:<22}   trusts {}", "", anchors.join("; "));
        }
        for pol in &p.policies {
            outln!("{:<22}   distrusts [{}] {}", "", pol.name, pol.description);
        }
    }
    outln!("{:<22} the operating system's root store", "system");
    let (pem, what) = chainstorm::trust::ProfileRef::PEM_USAGE;
    outln!("{pem:<22} {what}");
    outln!("\ndevice models (use the name as a fleet group's profile):");
    for (b, m) in &models {
        outln!("{:<22} {}", b.name, b.imitates);
        outln!("{:<22}   {}", "", m.parts_line());
        outln!("{:<22}   checked against {}", "", b.checked_against);
    }
    outln!("\nlinks (a fleet group's `link = \"NAME\"`, or [fleet.link] with profile = \"NAME\" and overrides):");
    for p in PROFILES {
        outln!("{:<22} {}", p.name, p.link.describe());
        for (what, basis, source) in p.sources {
            outln!("{:<22}   {what} ({}): {source}", "", basis.label());
        }
    }
    Ok(ExitCode::SUCCESS)
}
