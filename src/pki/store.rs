//! A PKI on disk: one PEM file per certificate, one per private key (mode
//! 0600), and `manifest.json` naming each file's role.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::KeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::bundle::{Issuer, PkiBundle, PkiConfig};
use super::generate::ca_params;
use super::role::Role;
use super::spec;
use super::PkiError;

/// Name of the manifest file in a PKI directory.
pub const MANIFEST: &str = "manifest.json";
/// Layout version; 2: end-entity certificates in strict DER with AIA, CRL
/// distribution points and policies. Older directories are regenerated
/// (cache) or refused (explicit `--pki`).
const FORMAT: u32 = 2;
/// A cached PKI older than this is regenerated: the not-yet-valid leaf turns
/// valid 30 days after generation and the leaves age.
const MAX_CACHE_AGE: Duration = Duration::days(14);

/// The manifest written next to the PEM files.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Layout version.
    pub format: u32,
    /// Tool and version that wrote it.
    pub generator: String,
    /// RFC 3339 generation time.
    pub generated_at: String,
    /// The settings used.
    pub config: ManifestConfig,
    /// One entry per certificate.
    pub files: Vec<ManifestFile>,
}

/// [`PkiConfig`] as stored in the manifest.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestConfig {
    /// RFC 3339, or absent for the default.
    pub legacy_leaf_not_before: Option<String>,
    /// RFC 3339.
    pub legacy_intermediate_not_after: String,
    /// Days.
    pub leaf_validity_days: u32,
    /// Region of the leaves' CN.
    pub primary_region: String,
    /// RFC 3339 end of Starfield G2 cross-signed by Class 2; absent in
    /// manifests written before it existed (then the cache is remade).
    #[serde(default)]
    pub starfield_g2_cross_not_after: Option<String>,
}

/// One certificate of the manifest.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// What it is for.
    pub role: Role,
    /// Certificate PEM file, relative to the directory.
    pub cert: String,
    /// Private key PEM file, when the role has its own key.
    pub key: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("any UTC time formats as RFC 3339")
}

fn parse_time(path: &Path, s: &str) -> Result<OffsetDateTime, PkiError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| PkiError::Invalid {
        path: path.to_path_buf(),
        message: format!("bad time {s:?}: {e}"),
    })
}

impl ManifestConfig {
    fn from_config(c: &PkiConfig) -> Self {
        ManifestConfig {
            legacy_leaf_not_before: c.legacy_leaf_not_before.map(rfc3339),
            legacy_intermediate_not_after: rfc3339(c.legacy_intermediate_not_after),
            leaf_validity_days: c.leaf_validity_days,
            primary_region: c.primary_region.clone(),
            starfield_g2_cross_not_after: Some(rfc3339(c.starfield_g2_cross_not_after)),
        }
    }

    fn to_config(&self, path: &Path) -> Result<PkiConfig, PkiError> {
        Ok(PkiConfig {
            legacy_leaf_not_before: self
                .legacy_leaf_not_before
                .as_deref()
                .map(|s| parse_time(path, s))
                .transpose()?,
            legacy_intermediate_not_after: parse_time(path, &self.legacy_intermediate_not_after)?,
            leaf_validity_days: self.leaf_validity_days,
            primary_region: self.primary_region.clone(),
            starfield_g2_cross_not_after: match &self.starfield_g2_cross_not_after {
                Some(s) => parse_time(path, s)?,
                None => crate::pki::spec::STARFIELD_G2_CROSS_NOT_AFTER,
            },
        })
    }
}

fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    let err = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(err)?;
    // A key file that already existed keeps its old mode through open();
    // set it explicitly.
    if private {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    f.write_all(contents).map_err(err)
}

fn cert_pem(der: &CertificateDer<'_>) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.as_ref().to_vec()))
}

impl PkiBundle {
    /// Writes every certificate and key under `dir` (created if missing).
    pub fn write_to(&self, dir: &Path) -> Result<Manifest, PkiError> {
        fs::create_dir_all(dir).map_err(|source| PkiError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files = Vec::new();
        for role in Role::ALL {
            let cert_name = format!("{}.pem", role.name());
            write_file(
                &dir.join(&cert_name),
                cert_pem(self.cert(role)).as_bytes(),
                false,
            )?;
            let key = if role.has_key() {
                let name = format!("{}.key", role.name());
                let key = self
                    .issuers
                    .get(&role)
                    .map(|i| &i.key)
                    .or_else(|| self.keys.get(&role))
                    .expect("roles with keys have keys");
                write_file(&dir.join(&name), key.serialize_pem().as_bytes(), true)?;
                Some(name)
            } else {
                None
            };
            files.push(ManifestFile {
                role,
                cert: cert_name,
                key,
            });
        }
        // Convenience bundles for peers such as openssl s_client and mosquitto.
        for (name, kinds) in [
            (
                "legacy-chain.pem",
                &[Role::LegacyLeaf, Role::LegacyIntermediate][..],
            ),
            (
                "ats-rsa-chain.pem",
                &[
                    Role::AtsRsaLeaf,
                    Role::AtsRsaIntermediate,
                    Role::AtsRsaCrossSigned,
                ][..],
            ),
            (
                "ats-ecc-chain.pem",
                &[Role::AtsEccLeaf, Role::AtsEccIntermediate][..],
            ),
        ] {
            let pem: String = kinds.iter().map(|r| cert_pem(self.cert(*r))).collect();
            write_file(&dir.join(name), pem.as_bytes(), false)?;
        }
        let manifest = Manifest {
            format: FORMAT,
            generator: format!("chainstorm {}", env!("CARGO_PKG_VERSION")),
            generated_at: rfc3339(self.generated_at),
            config: ManifestConfig::from_config(&self.config),
            files,
        };
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
        write_file(&dir.join(MANIFEST), json.as_bytes(), false)?;
        Ok(manifest)
    }

    /// Reads a PKI directory written by [`PkiBundle::write_to`].
    pub fn load(dir: &Path) -> Result<PkiBundle, PkiError> {
        let mpath = dir.join(MANIFEST);
        let manifest = read_manifest(&mpath)?;
        let config = manifest.config.to_config(&mpath)?;
        let mut certs = BTreeMap::new();
        let mut keys = BTreeMap::new();
        let mut issuers = BTreeMap::new();
        for f in &manifest.files {
            let cpath = dir.join(&f.cert);
            let der = CertificateDer::from_pem_file(&cpath).map_err(|e| PkiError::Invalid {
                path: cpath.clone(),
                message: format!("no certificate: {e}"),
            })?;
            certs.insert(f.role, der);
            if let Some(k) = &f.key {
                let kpath = dir.join(k);
                let pem = fs::read_to_string(&kpath).map_err(|source| PkiError::Read {
                    path: kpath.clone(),
                    source,
                })?;
                let key = KeyPair::from_pem(&pem).map_err(|e| PkiError::Invalid {
                    path: kpath.clone(),
                    message: format!("no usable private key: {e}"),
                })?;
                match spec::ca_spec(f.role) {
                    // An issuer needs rcgen's certificate object for its name
                    // and key identifier; rebuild it from the spec with the
                    // stored key (the name is what matters, not the signature).
                    Some(spec) => {
                        let cert = ca_params(spec, spec.not_after).self_signed(&key).map_err(
                            |source| PkiError::Generate {
                                role: f.role.name().to_string(),
                                source,
                            },
                        )?;
                        issuers.insert(f.role, Issuer { cert, key });
                    }
                    None => {
                        keys.insert(f.role, key);
                    }
                }
            }
        }
        for role in Role::ALL {
            if !certs.contains_key(&role) {
                return Err(PkiError::Invalid {
                    path: mpath,
                    message: format!("no file for role {}", role.name()),
                });
            }
        }
        Ok(PkiBundle {
            config,
            generated_at: parse_time(&mpath, &manifest.generated_at)?,
            certs,
            keys,
            issuers,
        })
    }

    /// Loads the PKI cached in `dir` when it was made with the same settings
    /// and is recent; otherwise generates a new one and writes it there.
    /// Returns the bundle and whether it came from the cache.
    pub fn load_or_generate(dir: &Path, config: &PkiConfig) -> Result<(PkiBundle, bool), PkiError> {
        let mpath = dir.join(MANIFEST);
        if let Ok(m) = read_manifest(&mpath) {
            let fresh = parse_time(&mpath, &m.generated_at)
                .map(|t| OffsetDateTime::now_utc() - t < MAX_CACHE_AGE)
                .unwrap_or(false);
            if fresh && m.config == ManifestConfig::from_config(config) {
                if let Ok(b) = PkiBundle::load(dir) {
                    return Ok((b, true));
                }
            }
        }
        let b = PkiBundle::generate(config.clone())?;
        b.write_to(dir)?;
        Ok((b, false))
    }
}

impl PkiBundle {
    /// The PKI in `dir`, or, without a directory, the one in the user's
    /// cache (generated there when missing, stale or made with other
    /// settings). A missing directory is an error that names it.
    pub fn load_or_cache(dir: Option<&Path>) -> Result<PkiBundle, PkiError> {
        match dir {
            Some(d) if !d.is_dir() => Err(PkiError::Invalid {
                path: d.to_path_buf(),
                message: "no such PKI directory (create one with `chainstorm pki init --out DIR`)"
                    .into(),
            }),
            Some(d) => PkiBundle::load(d),
            None => {
                let cache = default_cache_dir();
                Ok(PkiBundle::load_or_generate(&cache, &PkiConfig::default())?.0)
            }
        }
    }
}

/// Writes each device identity as `<client_id>.pem` and `<client_id>.key`
/// under `dir` (created if missing); keys are 0600 even when they replace
/// an existing file.
pub fn write_device_identities(dir: &Path, ids: &[super::DeviceIdentity]) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    for d in ids {
        let cert = cert_pem(&d.cert);
        write_file(
            &dir.join(format!("{}.pem", d.client_id)),
            cert.as_bytes(),
            false,
        )?;
        let key = pem::encode(&pem::Pem::new("PRIVATE KEY", d.key.secret_der().to_vec()));
        write_file(
            &dir.join(format!("{}.key", d.client_id)),
            key.as_bytes(),
            true,
        )?;
    }
    Ok(())
}

/// Reads and parses a manifest.
pub fn read_manifest(path: &Path) -> Result<Manifest, PkiError> {
    let text = fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| PkiError::Invalid {
        path: path.to_path_buf(),
        message: format!("line {} column {}: {e}", e.line(), e.column()),
    })?;
    if m.format != FORMAT {
        return Err(PkiError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "format {} is not {FORMAT}; re-create it with `chainstorm pki init --force`",
                m.format
            ),
        });
    }
    Ok(m)
}

/// The default cache directory: `$XDG_CACHE_HOME/chainstorm/pki`, else
/// `~/.cache/chainstorm/pki`, else `./.chainstorm-cache/pki`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("chainstorm/pki");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache/chainstorm/pki");
    }
    PathBuf::from(".chainstorm-cache/pki")
}
