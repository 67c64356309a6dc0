//! `chainstorm profiles`.

use std::process::ExitCode;

use anyhow::Result;

use chainstorm::pki::PkiBundle;
use chainstorm::trust::TrustProfile;

use crate::args::ProfilesArgs;

/// Lists the trust profiles with what each trusts and distrusts.
pub fn profiles(a: ProfilesArgs) -> Result<ExitCode> {
    let bundle = PkiBundle::load_or_cache(a.pki.as_deref())?;
    let mut out = Vec::new();
    for (name, _) in chainstorm::trust::BUILTIN {
        if *name == "pem:PATH" || *name == "system" {
            continue;
        }
        out.push(TrustProfile::resolve(name, &bundle)?);
    }
    if a.json {
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
    outln!("{:<22} every certificate of a PEM bundle", "pem:PATH");
    Ok(ExitCode::SUCCESS)
}
