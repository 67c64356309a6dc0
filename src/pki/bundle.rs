//! The in-memory PKI: every certificate, the keys that sign, and the issuers
//! kept so more leaves and device certificates can be minted.

use std::collections::BTreeMap;

use rcgen::{Certificate, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime, Time};

use super::generate::{ca_params, leaf_params, new_key, LeafSpec};
use super::regions;
use super::role::{ChainKind, Role};
use super::spec::{self, CaSpec, KeyKind};
use super::PkiError;

/// Settings that shape the generated hierarchies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiConfig {
    /// notBefore of the legacy leaf. `None`: a week before generation, as a
    /// recently renewed AWS certificate has (after 2019-04-16, so the JDK's
    /// SYMANTEC_TLS policy rejects it, as it does the real one).
    pub legacy_leaf_not_before: Option<OffsetDateTime>,
    /// notAfter of the mock Symantec G4 intermediate (the real one expired
    /// 2023-10-30; the default keeps the legacy chain valid).
    pub legacy_intermediate_not_after: OffsetDateTime,
    /// Validity of the generated server leaves, in days.
    pub leaf_validity_days: u32,
    /// Region whose wildcard is the leaves' CN.
    pub primary_region: String,
    /// notAfter of Starfield Services Root G2 cross-signed by the Class 2
    /// root (the real one ends 2034-06-28; move it to see devices that
    /// need that cross-certificate break).
    pub starfield_g2_cross_not_after: OffsetDateTime,
}

impl Default for PkiConfig {
    fn default() -> Self {
        PkiConfig {
            legacy_leaf_not_before: None,
            legacy_intermediate_not_after: spec::SYMANTEC_G4_DEFAULT_NOT_AFTER,
            leaf_validity_days: 395,
            primary_region: "us-east-1".to_string(),
            starfield_g2_cross_not_after: spec::STARFIELD_G2_CROSS_NOT_AFTER,
        }
    }
}

/// A CA kept able to sign: its rcgen certificate (for the issuer name and
/// key identifier) and its key.
pub(crate) struct Issuer {
    pub(crate) cert: Certificate,
    pub(crate) key: KeyPair,
}

impl Issuer {
    /// Issues a server leaf with a fresh key; the chain holds only the leaf.
    fn issue_leaf(&self, leaf: &LeafSpec, kind: KeyKind) -> Result<ServedChain, PkiError> {
        let key = new_key(kind, "extra leaf")?;
        let cert = leaf_params(leaf, kind, "extra")?
            .signed_by(&key, &self.cert, &self.key)
            .map_err(|source| PkiError::Generate {
                role: "extra leaf".to_string(),
                source,
            })?;
        Ok(ServedChain {
            certs: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

/// A chain as a server presents it, with the key that proves it.
#[derive(Debug)]
pub struct ServedChain {
    /// Leaf first, then the certificates sent along with it.
    pub certs: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServedChain {
    fn clone(&self) -> Self {
        ServedChain {
            certs: self.certs.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Every certificate of the mock PKI, in memory.
pub struct PkiBundle {
    pub(crate) config: PkiConfig,
    pub(crate) generated_at: OffsetDateTime,
    pub(crate) certs: BTreeMap<Role, CertificateDer<'static>>,
    pub(crate) keys: BTreeMap<Role, KeyPair>,
    pub(crate) issuers: BTreeMap<Role, Issuer>,
}

impl std::fmt::Debug for PkiBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PkiBundle")
            .field("config", &self.config)
            .field("generated_at", &self.generated_at)
            .field("roles", &self.certs.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Midnight UTC of the day `at` falls on.
fn day_start(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_time(Time::MIDNIGHT)
}

impl PkiBundle {
    /// Generates every hierarchy. Costs fifteen RSA-2048 key generations.
    pub fn generate(config: PkiConfig) -> Result<PkiBundle, PkiError> {
        let now = OffsetDateTime::now_utc();
        let mut b = PkiBundle {
            config,
            generated_at: now,
            certs: BTreeMap::new(),
            keys: BTreeMap::new(),
            issuers: BTreeMap::new(),
        };
        let today = day_start(now);
        b.make_roots()?;
        b.make_intermediates()?;
        b.make_crosses()?;
        let ats_leaf = b.make_server_leaves(today - Duration::days(7))?;
        b.make_broken_leaves(today, &ats_leaf)?;
        Ok(b)
    }

    /// The roots: VeriSign G5, Amazon Root CA 1 and 3, Starfield G2 and Class 2, an unknown root, the device CA.
    fn make_roots(&mut self) -> Result<(), PkiError> {
        self.make_root(Role::LegacyRoot, &spec::VERISIGN_G5)?;
        self.make_root(Role::AtsRsaRoot, &spec::AMAZON_ROOT_CA_1)?;
        self.make_root(Role::AtsEccRoot, &spec::AMAZON_ROOT_CA_3)?;
        self.make_root(Role::StarfieldRoot, &spec::STARFIELD_G2)?;
        self.make_root(Role::UnknownRoot, &spec::UNKNOWN_ROOT)?;
        self.make_root(Role::DeviceCa, &spec::DEVICE_CA)?;
        self.make_root(Role::StarfieldClass2Root, &spec::STARFIELD_CLASS2)?;

        Ok(())
    }

    /// The legacy G4 intermediate and the ATS RSA/ECC intermediates M01-M04.
    fn make_intermediates(&mut self) -> Result<(), PkiError> {
        let g4_end = self.config.legacy_intermediate_not_after;
        self.make_intermediate(
            Role::LegacyIntermediate,
            &spec::SYMANTEC_G4,
            g4_end,
            Role::LegacyRoot,
        )?;
        self.make_intermediate(
            Role::AtsRsaIntermediate,
            &spec::AMAZON_RSA_M01,
            spec::AMAZON_RSA_M01.not_after,
            Role::AtsRsaRoot,
        )?;
        self.make_intermediate(
            Role::AtsEccIntermediate,
            &spec::AMAZON_ECDSA_M01,
            spec::AMAZON_ECDSA_M01.not_after,
            Role::AtsEccRoot,
        )?;

        for (role, spec, parent) in [
            (
                Role::AtsRsaIntermediateM02,
                &spec::AMAZON_RSA_M02,
                Role::AtsRsaRoot,
            ),
            (
                Role::AtsRsaIntermediateM03,
                &spec::AMAZON_RSA_M03,
                Role::AtsRsaRoot,
            ),
            (
                Role::AtsRsaIntermediateM04,
                &spec::AMAZON_RSA_M04,
                Role::AtsRsaRoot,
            ),
            (
                Role::AtsEccIntermediateM02,
                &spec::AMAZON_ECDSA_M02,
                Role::AtsEccRoot,
            ),
            (
                Role::AtsEccIntermediateM03,
                &spec::AMAZON_ECDSA_M03,
                Role::AtsEccRoot,
            ),
            (
                Role::AtsEccIntermediateM04,
                &spec::AMAZON_ECDSA_M04,
                Role::AtsEccRoot,
            ),
        ] {
            self.make_intermediate(role, spec, spec.not_after, parent)?;
        }

        Ok(())
    }

    /// The cross-certificates: Amazon Root CA 1 by Starfield G2, Starfield G2 by Class 2.
    fn make_crosses(&mut self) -> Result<(), PkiError> {
        // Amazon Root CA 1 cross-signed by Starfield: the same subject and key
        // as the self-signed root, so a path can end at either anchor. The
        // real cross-certificate constrains nothing below it but is itself a
        // CA certificate; keep it unconstrained like the root.
        self.make_cross(
            Role::AtsRsaCrossSigned,
            &spec::AMAZON_ROOT_CA_1,
            (spec::CROSS_SIGN_NOT_BEFORE, spec::CROSS_SIGN_NOT_AFTER),
            Role::AtsRsaRoot,
            Role::StarfieldRoot,
        )?;
        // Starfield G2 cross-signed by the 2004 Class 2 root, the next link
        // up for devices that hold only that root.
        let g2_end = self.config.starfield_g2_cross_not_after;
        self.make_cross(
            Role::StarfieldG2CrossSigned,
            &spec::STARFIELD_G2,
            (spec::STARFIELD_G2_CROSS_NOT_BEFORE, g2_end),
            Role::StarfieldRoot,
            Role::StarfieldClass2Root,
        )?;

        Ok(())
    }

    /// The legacy, ATS RSA and ATS ECC leaves, and one per rotated
    /// intermediate; returns the ATS leaf's spec the broken variants start from.
    fn make_server_leaves(&mut self, leaf_from: OffsetDateTime) -> Result<LeafSpec, PkiError> {
        let leaf_to = leaf_from + Duration::days(i64::from(self.config.leaf_validity_days));
        let primary = self.config.primary_region.clone();
        let legacy_names: Vec<String> = regions::VERISIGN_REGIONS
            .iter()
            .map(|r| regions::wildcard_name(r))
            .collect();
        let all_names: Vec<String> = regions::all().map(regions::wildcard_name).collect();
        let legacy_from = self.config.legacy_leaf_not_before.unwrap_or(leaf_from);
        let legacy_leaf = LeafSpec {
            common_name: regions::wildcard_name(&primary),
            organization: Some(spec::LEGACY_LEAF_ORG.to_string()),
            dns_names: legacy_names,
            not_before: legacy_from,
            not_after: legacy_from.max(leaf_from)
                + Duration::days(i64::from(self.config.leaf_validity_days)),
        };
        let ats_leaf = LeafSpec {
            common_name: regions::wildcard_name(&primary),
            organization: None,
            dns_names: all_names,
            not_before: leaf_from,
            not_after: leaf_to,
        };
        self.make_leaf(
            Role::LegacyLeaf,
            &legacy_leaf,
            KeyKind::Rsa2048,
            Role::LegacyIntermediate,
            None,
        )?;
        self.make_leaf(
            Role::AtsRsaLeaf,
            &ats_leaf,
            KeyKind::Rsa2048,
            Role::AtsRsaIntermediate,
            None,
        )?;
        self.make_leaf(
            Role::AtsEccLeaf,
            &ats_leaf,
            KeyKind::EcP256,
            Role::AtsEccIntermediate,
            None,
        )?;
        // Each rotated intermediate issues its own leaf with its own key, as
        // a renewed AWS endpoint certificate has: a leaf pin breaks too.
        for (leaf, kind, parent) in [
            (
                Role::AtsRsaLeafM02,
                KeyKind::Rsa2048,
                Role::AtsRsaIntermediateM02,
            ),
            (
                Role::AtsRsaLeafM03,
                KeyKind::Rsa2048,
                Role::AtsRsaIntermediateM03,
            ),
            (
                Role::AtsRsaLeafM04,
                KeyKind::Rsa2048,
                Role::AtsRsaIntermediateM04,
            ),
            (
                Role::AtsEccLeafM02,
                KeyKind::EcP256,
                Role::AtsEccIntermediateM02,
            ),
            (
                Role::AtsEccLeafM03,
                KeyKind::EcP256,
                Role::AtsEccIntermediateM03,
            ),
            (
                Role::AtsEccLeafM04,
                KeyKind::EcP256,
                Role::AtsEccIntermediateM04,
            ),
        ] {
            self.make_leaf(leaf, &ats_leaf, kind, parent, None)?;
        }

        Ok(ats_leaf)
    }

    /// Expired, not yet valid, wrong-name and unknown-CA leaves.
    fn make_broken_leaves(
        &mut self,
        today: OffsetDateTime,
        ats_leaf: &LeafSpec,
    ) -> Result<(), PkiError> {
        // Broken variants reuse the ATS RSA leaf key: only the certificate differs.
        let expired = LeafSpec {
            not_before: today - Duration::days(400),
            not_after: today - Duration::days(1),
            ..ats_leaf.clone()
        };
        let not_yet = LeafSpec {
            not_before: today + Duration::days(30),
            not_after: today + Duration::days(400),
            ..ats_leaf.clone()
        };
        let wrong_name = LeafSpec {
            common_name: "device-gateway.example.net".to_string(),
            dns_names: vec!["device-gateway.example.net".to_string()],
            ..ats_leaf.clone()
        };
        let shared = Some(Role::AtsRsaLeaf);
        self.make_leaf(
            Role::ExpiredLeaf,
            &expired,
            KeyKind::Rsa2048,
            Role::AtsRsaIntermediate,
            shared,
        )?;
        self.make_leaf(
            Role::NotYetValidLeaf,
            &not_yet,
            KeyKind::Rsa2048,
            Role::AtsRsaIntermediate,
            shared,
        )?;
        self.make_leaf(
            Role::WrongNameLeaf,
            &wrong_name,
            KeyKind::Rsa2048,
            Role::AtsRsaIntermediate,
            shared,
        )?;
        self.make_leaf(
            Role::UnknownCaLeaf,
            ats_leaf,
            KeyKind::Rsa2048,
            Role::UnknownRoot,
            shared,
        )?;
        Ok(())
    }

    fn make_root(&mut self, role: Role, spec: &CaSpec) -> Result<(), PkiError> {
        let key = new_key(spec.key, role.name())?;
        let cert = ca_params(spec, spec.not_after)
            .self_signed(&key)
            .map_err(|source| PkiError::Generate {
                role: role.name().to_string(),
                source,
            })?;
        self.certs.insert(role, cert.der().clone());
        self.issuers.insert(role, Issuer { cert, key });
        Ok(())
    }

    /// A cross-certificate: `spec`'s subject over `subject_key_of`'s key,
    /// signed by `issuer`, valid over `(from, to)`.
    fn make_cross(
        &mut self,
        role: Role,
        spec: &CaSpec,
        (from, to): (OffsetDateTime, OffsetDateTime),
        subject_key_of: Role,
        issuer: Role,
    ) -> Result<(), PkiError> {
        let mut params = ca_params(spec, to);
        params.not_before = from;
        params.use_authority_key_identifier_extension = true;
        let iss = &self.issuers[&issuer];
        let cert = params
            .signed_by(&self.issuers[&subject_key_of].key, &iss.cert, &iss.key)
            .map_err(|source| PkiError::Generate {
                role: role.name().to_string(),
                source,
            })?;
        self.certs.insert(role, cert.der().clone());
        Ok(())
    }

    fn make_intermediate(
        &mut self,
        role: Role,
        spec: &CaSpec,
        not_after: OffsetDateTime,
        parent: Role,
    ) -> Result<(), PkiError> {
        let key = new_key(spec.key, role.name())?;
        let issuer = &self.issuers[&parent];
        let cert = ca_params(spec, not_after)
            .signed_by(&key, &issuer.cert, &issuer.key)
            .map_err(|source| PkiError::Generate {
                role: role.name().to_string(),
                source,
            })?;
        self.certs.insert(role, cert.der().clone());
        self.issuers.insert(role, Issuer { cert, key });
        Ok(())
    }

    fn make_leaf(
        &mut self,
        role: Role,
        leaf: &LeafSpec,
        kind: KeyKind,
        parent: Role,
        reuse_key_of: Option<Role>,
    ) -> Result<(), PkiError> {
        let params = leaf_params(leaf, kind, parent.name())?;
        let err = |source| PkiError::Generate {
            role: role.name().to_string(),
            source,
        };
        let issuer = &self.issuers[&parent];
        let cert = match reuse_key_of {
            Some(other) => params
                .signed_by(&self.keys[&other], &issuer.cert, &issuer.key)
                .map_err(err)?,
            None => {
                let key = new_key(kind, role.name())?;
                let cert = params
                    .signed_by(&key, &issuer.cert, &issuer.key)
                    .map_err(err)?;
                self.keys.insert(role, key);
                cert
            }
        };
        self.certs.insert(role, cert.der().clone());
        Ok(())
    }

    /// The settings this PKI was generated with.
    pub fn config(&self) -> &PkiConfig {
        &self.config
    }

    /// When it was generated.
    pub fn generated_at(&self) -> OffsetDateTime {
        self.generated_at
    }

    /// The DER certificate of a role.
    pub fn cert(&self, role: Role) -> &CertificateDer<'static> {
        &self.certs[&role]
    }

    /// The PKCS#8 private key of a role that has one of its own.
    pub fn key(&self, role: Role) -> Option<PrivateKeyDer<'static>> {
        let key = self
            .issuers
            .get(&role)
            .map(|i| &i.key)
            .or_else(|| self.keys.get(&role))?;
        Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )))
    }

    /// The chain an endpoint presents for `kind`, with its key.
    pub fn chain(&self, kind: ChainKind) -> ServedChain {
        ServedChain {
            certs: kind.roles().iter().map(|r| self.cert(*r).clone()).collect(),
            key: self
                .key(kind.key_role())
                .expect("every chain's key role has a key"),
        }
    }

    /// Bytes of the Certificate handshake message that carries `kind`'s
    /// chain: the figure a device's TLS input buffer is compared with.
    pub fn certificate_message_len(
        &self,
        kind: ChainKind,
        layout: super::CertMessageLayout,
    ) -> usize {
        super::certificate_message_len(
            kind.roles().iter().map(|r| self.cert(*r).as_ref().len()),
            layout,
        )
    }

    /// Issues an extra server leaf under a CA of this PKI (tests use it for
    /// the JDK date boundary). The chain holds only the leaf.
    pub fn issue_leaf(
        &self,
        issuer: Role,
        leaf: &LeafSpec,
        kind: KeyKind,
    ) -> Result<ServedChain, PkiError> {
        let iss = self.issuers.get(&issuer).ok_or_else(|| PkiError::Invalid {
            path: issuer.name().into(),
            message: "not a CA of this PKI".to_string(),
        })?;
        iss.issue_leaf(leaf, kind)
    }

    /// Issues an extra intermediate CA under `parent` (tests use it to stand
    /// in for the JDK's exempt Apple sub-CAs) and returns it as a new issuer.
    pub fn issue_intermediate(&self, parent: Role, spec: &CaSpec) -> Result<ExtraCa, PkiError> {
        let iss = self.issuers.get(&parent).ok_or_else(|| PkiError::Invalid {
            path: parent.name().into(),
            message: "not a CA of this PKI".to_string(),
        })?;
        let key = new_key(spec.key, "extra intermediate")?;
        let cert = ca_params(spec, spec.not_after)
            .signed_by(&key, &iss.cert, &iss.key)
            .map_err(|source| PkiError::Generate {
                role: "extra intermediate".to_string(),
                source,
            })?;
        Ok(ExtraCa {
            inner: Issuer { cert, key },
        })
    }
}

/// A CA issued outside the fixed roles (see [`PkiBundle::issue_intermediate`]).
pub struct ExtraCa {
    inner: Issuer,
}

impl ExtraCa {
    /// Its DER certificate.
    pub fn cert(&self) -> &CertificateDer<'static> {
        self.inner.cert.der()
    }

    /// Issues a server leaf under it; the chain holds the leaf, then this CA.
    pub fn issue_leaf(&self, leaf: &LeafSpec, kind: KeyKind) -> Result<ServedChain, PkiError> {
        let mut chain = self.inner.issue_leaf(leaf, kind)?;
        chain.certs.push(self.cert().clone());
        Ok(chain)
    }
}
