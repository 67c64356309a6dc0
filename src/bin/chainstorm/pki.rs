//! `chainstorm pki init` and `chainstorm pki show`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use chainstorm::pki::{self, describe_cert, CertMessageLayout, ChainKind, PkiBundle, PkiConfig};

use crate::args::{PkiInitArgs, PkiShowArgs};

fn parse_time(flag: &str, s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).with_context(|| {
        format!("{flag}: {s:?} is not an RFC 3339 time such as 2019-04-16T23:59:59Z")
    })
}

/// Writes a PKI (and optionally minted device identities) to a directory.
pub fn init(a: PkiInitArgs) -> Result<ExitCode> {
    if !pki::regions::is_known(&a.region) {
        bail!("--region: unknown region {:?}", a.region);
    }
    if a.out.join(pki::store::MANIFEST).exists() && !a.force {
        bail!(
            "{} already holds a PKI; pass --force to replace it",
            a.out.display()
        );
    }
    let mut config = PkiConfig {
        primary_region: a.region.clone(),
        ..PkiConfig::default()
    };
    if let Some(s) = &a.legacy_leaf_not_before {
        config.legacy_leaf_not_before = Some(parse_time("--legacy-leaf-not-before", s)?);
    }
    if let Some(s) = &a.legacy_intermediate_not_after {
        config.legacy_intermediate_not_after = parse_time("--legacy-intermediate-not-after", s)?;
    }
    if let Some(s) = &a.starfield_g2_cross_not_after {
        config.starfield_g2_cross_not_after = parse_time("--starfield-g2-cross-not-after", s)?;
    }
    let t = Instant::now();
    let bundle = PkiBundle::generate(config)?;
    let gen = t.elapsed();
    let manifest = bundle.write_to(&a.out)?;
    outln!(
        "wrote {} certificates to {} in {:.2}s (manifest: {})",
        manifest.files.len(),
        a.out.display(),
        gen.as_secs_f64(),
        a.out.join(pki::store::MANIFEST).display()
    );
    if a.devices > 0 {
        let ca = bundle.device_ca();
        let t = Instant::now();
        // A progress line on stderr every second: minting a million takes a while.
        let mut last = Instant::now();
        let mut minted = Vec::with_capacity(a.devices as usize);
        for i in 0..a.devices {
            minted.push(ca.mint(&format!("device-{i:06}"))?);
            if last.elapsed().as_secs() >= 1 {
                last = Instant::now();
                eprintln!("minting device certificates: {}/{}", i + 1, a.devices);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        pki::store::write_device_identities(&a.out.join("devices"), &minted)?;
        outln!(
            "minted {} device certificates (P-256) in {:.3}s: {:.0} certs/s",
            a.devices,
            secs,
            f64::from(a.devices) / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Describes every certificate of a PKI directory.
pub fn show(a: PkiShowArgs) -> Result<ExitCode> {
    let manifest = pki::store::read_manifest(&a.dir.join(pki::store::MANIFEST))?;
    let mut rows = Vec::new();
    for f in &manifest.files {
        let path = a.dir.join(&f.cert);
        let pem_text =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let block =
            pem::parse(&pem_text).with_context(|| format!("{}: bad PEM", path.display()))?;
        let s = describe_cert(block.contents()).with_context(|| path.display().to_string())?;
        rows.push((f.role, s));
    }
    let bundle = PkiBundle::load(&a.dir)?;
    let sizes: Vec<(ChainKind, usize, usize)> = ChainKind::ALL
        .iter()
        .map(|&k| {
            (
                k,
                bundle.certificate_message_len(k, CertMessageLayout::Tls12),
                bundle.certificate_message_len(k, CertMessageLayout::Tls13),
            )
        })
        .collect();
    if a.json {
        let certs: Vec<_> = rows
            .iter()
            .map(|(r, s)| serde_json::json!({"role": r, "certificate": s}))
            .collect();
        let chains: Vec<_> = sizes
            .iter()
            .map(|(k, t12, t13)| {
                serde_json::json!({"chain": k.name(), "certificate_message_bytes": {"tls12": t12, "tls13": t13}})
            })
            .collect();
        let out = serde_json::json!({"certificates": certs, "chains": chains});
        let text = serde_json::to_string_pretty(&out)?;
        outln!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "PKI {} (generated {})",
        a.dir.display(),
        manifest.generated_at
    );
    for (role, s) in rows {
        outln!("\n{}", role.name());
        outln!("  subject    {}", s.subject);
        outln!("  issuer     {}", s.issuer);
        outln!("  key        {}   signature {}", s.key, s.signature);
        outln!(
            "  validity   {} .. {}",
            s.not_before.date(),
            s.not_after.date()
        );
        outln!("  sha256     {}", s.sha256);
        outln!("  spki256    {}", s.spki_sha256);
    }
    outln!("\nCertificate handshake message per served chain (bytes, header included;");
    outln!("a device whose TLS input buffer is smaller cannot receive it):");
    outln!("  {:<22} {:>8} {:>8}", "chain", "TLS 1.2", "TLS 1.3");
    for (k, t12, t13) in sizes {
        outln!("  {:<22} {:>8} {:>8}", k.name(), t12, t13);
    }
    Ok(ExitCode::SUCCESS)
}
