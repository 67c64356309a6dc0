//! `chainstorm probe`: parse, run the probes, print the table or JSON.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use chainstorm::mqtt::Protocol;
use chainstorm::pki::regions;
use chainstorm::pki::PkiBundle;
use chainstorm::probe::{self, ProbeResult, ProbeTarget};
use chainstorm::trust::BUILTIN;
use rustls::pki_types::ServerName;

use crate::args::ProbeArgs;

fn table(name: &str, rs: &[ProbeResult]) -> String {
    let mut o = format!(
        "{name}\n{:<22} {:<9} {:<36} {:<8} {:<30} {:>10} {:>10}\n",
        "profile", "verdict", "anchor / failure", "tls", "suite", "handshake", "validation"
    );
    for r in rs {
        let what = if r.accepted {
            r.anchor.clone().unwrap_or_default()
        } else {
            r.cause.as_ref().map(|c| c.qualified()).unwrap_or_default()
        };
        o.push_str(&format!(
            "{:<22} {:<9} {:<36} {:<8} {:<30} {:>10} {:>10}\n",
            r.profile,
            if r.accepted { "ok" } else { "FAIL" },
            what.chars().take(36).collect::<String>(),
            r.tls_version
                .clone()
                .unwrap_or_default()
                .replace("TLSv", ""),
            r.cipher_suite
                .clone()
                .unwrap_or_default()
                .chars()
                .take(30)
                .collect::<String>(),
            r.handshake_us
                .map(|v| format!("{v:.0}µs"))
                .unwrap_or_default(),
            r.validation_us
                .map(|v| format!("{v:.0}µs"))
                .unwrap_or_default(),
        ));
    }
    if let Some(r) = rs.iter().find(|r| !r.chain.is_empty()) {
        o.push_str("chain presented:\n");
        for c in &r.chain {
            o.push_str(&format!(
                "  {} <- {}  [{}] {} .. {}  sha256 {}\n",
                c.common_name.clone().unwrap_or_else(|| c.subject.clone()),
                c.issuer,
                c.key,
                c.not_before.date(),
                c.not_after.date(),
                &c.sha256[..16]
            ));
        }
    }
    for r in rs.iter().filter(|r| !r.accepted) {
        o.push_str(&format!(
            "  {}: {}\n",
            r.profile,
            r.message.clone().unwrap_or_default()
        ));
    }
    o
}

/// Runs the verb: one endpoint against every profile, or a fleet's models
/// against both endpoints; exit 1 when a `--require`d profile failed.
pub fn probe(a: ProbeArgs) -> Result<ExitCode> {
    chainstorm::safety::check_target(a.addr, a.allow_remote)?;
    let pki = PkiBundle::load_or_cache(a.pki.as_deref())?;
    let client_cert = if a.mint_client_cert {
        let id = pki.device_ca().mint(&a.client_id)?;
        Some(chainstorm::client::certified_key(
            vec![id.cert.clone()],
            id.key.clone_key(),
        )?)
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    let results = match &a.fleet {
        None => probe_endpoint(&a, &pki, &client_cert, &rt)?,
        Some(f) => probe_fleet(&a, f, &pki, &client_cert, &rt)?,
    };
    let failed_required = results
        .iter()
        .any(|r| a.require.contains(&r.profile) && !r.accepted);
    Ok(if failed_required {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where and how each probe connects.
fn target(a: &ProbeArgs, sni: String, client_cert: &ClientCert) -> Result<ProbeTarget> {
    Ok(ProbeTarget {
        addr: a.addr,
        sni: ServerName::try_from(sni.clone())
            .with_context(|| format!("{sni:?} is not a valid server name"))?,
        alpn: a.alpn.clone(),
        mqtt: a.mqtt.as_deref().map(|m| {
            if m == "5" {
                Protocol::V5
            } else {
                Protocol::V311
            }
        }),
        client_id: a.client_id.clone(),
        client_cert: client_cert.clone(),
        timeout: Duration::from_secs_f64(a.timeout_s.max(0.1)),
    })
}

type ClientCert = Option<std::sync::Arc<rustls::sign::CertifiedKey>>;

/// Says so when every profile saw a bad signature without `--pki`: the
/// endpoint's mock CA is another machine's.
fn hint(a: &ProbeArgs, rs: &[ProbeResult]) {
    if a.pki.is_none() && probe::foreign_mock_ca(rs) {
        eprintln!(
            "chainstorm: every profile saw a bad signature: the endpoint's mock CA is not this machine's cached PKI; pass --pki DIR (the directory the endpoint was started with)"
        );
    }
}

/// `--sni`: one handshake per trust profile (all built in by default).
fn probe_endpoint(
    a: &ProbeArgs,
    pki: &PkiBundle,
    client_cert: &ClientCert,
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<ProbeResult>> {
    let names: Vec<String> = if a.profiles.is_empty() {
        BUILTIN
            .iter()
            .map(|(n, _)| n.to_string())
            .filter(|n| n != "system")
            .collect()
    } else {
        a.profiles.clone()
    };
    let profiles = probe::profiles(&names, pki)?;
    let sni = a.sni.clone().context("--sni is required without --fleet")?;
    let rs = rt.block_on(probe::probe_all(
        &target(a, sni.clone(), client_cert)?,
        &profiles,
    ));
    hint(a, &rs);
    let text = if a.json {
        serde_json::to_string_pretty(&rs)?
    } else {
        table(&format!("probe {} (SNI {sni})", a.addr), &rs)
    };
    outln!("{text}");
    Ok(rs)
}

/// `--fleet`: each of the scenario's models against the legacy and the ATS
/// endpoint, weighed by its devices.
fn probe_fleet(
    a: &ProbeArgs,
    scenario: &std::path::Path,
    pki: &PkiBundle,
    client_cert: &ClientCert,
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<ProbeResult>> {
    let s = chainstorm::scenario::load(scenario)?;
    let devices = probe::fleet_devices(&s.groups, pki)?;
    let fleet: Vec<(String, u64)> = devices.iter().map(|(d, n)| (d.label.clone(), *n)).collect();
    let fleet_profiles: Vec<_> = devices.into_iter().map(|(d, _)| d).collect();
    let legacy = regions::endpoint_host(&a.prefix, &a.region, false);
    let ats = regions::endpoint_host(&a.prefix, &a.region, true);
    let rl = rt.block_on(probe::probe_all(
        &target(a, legacy.clone(), client_cert)?,
        &fleet_profiles,
    ));
    let ra = rt.block_on(probe::probe_all(
        &target(a, ats.clone(), client_cert)?,
        &fleet_profiles,
    ));
    hint(a, &ra);
    let (sl, sa) = (
        probe::fleet_failure_share(&fleet, &rl),
        probe::fleet_failure_share(&fleet, &ra),
    );
    if a.json {
        let v = serde_json::json!({
            "legacy": {"sni": legacy, "fleet_failure_share": sl, "results": rl},
            "ats": {"sni": ats, "fleet_failure_share": sa, "results": ra},
        });
        let text = serde_json::to_string_pretty(&v)?;
        outln!("{text}");
    } else {
        let total: u64 = fleet.iter().map(|(_, n)| n).sum();
        let mut o = format!("fleet {} ({total} devices) against {}\n", s.name, a.addr);
        o.push_str(&fleet_table(&fleet, &rl, &ra));
        o.push_str(&format!(
            "share of the fleet that would fail: legacy {:.1}% ({legacy}), ATS {:.1}% ({ats})\n",
            sl * 100.0,
            sa * 100.0
        ));
        outln!("{o}");
    }
    Ok(rl.into_iter().chain(ra).collect())
}

/// One row per model: its devices and what each endpoint did to it.
fn fleet_table(fleet: &[(String, u64)], rl: &[ProbeResult], ra: &[ProbeResult]) -> String {
    let mut o = format!(
        "{:<22} {:>8}  {:<34} {:<34}\n",
        "model / profile", "devices", "legacy endpoint", "ATS endpoint"
    );
    let verdict = |rs: &[ProbeResult], p: &str| {
        rs.iter()
            .find(|r| r.profile == p)
            .map(|r| {
                if r.accepted {
                    "ok".to_string()
                } else {
                    r.cause.as_ref().map(|c| c.qualified()).unwrap_or_default()
                }
            })
            .unwrap_or_default()
    };
    for (p, _) in fleet {
        let n: u64 = fleet.iter().filter(|(q, _)| q == p).map(|(_, n)| n).sum();
        o.push_str(&format!(
            "{:<22} {:>8}  {:<34} {:<34}\n",
            p,
            n,
            verdict(rl, p),
            verdict(ra, p)
        ));
    }
    o
}
