//! The chain verifier: rustls-webpki path building, the profile's distrust
//! policies applied to each candidate path, and a monotonic timing of every
//! validation handed to the caller through lock-free atomics.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::anchors::AnchorFamily;
use super::path::{self, NoPath, PathBuilder};
use super::policy::{Distrust, PathView};
use super::rules::{CheckOrder, DeviceBufferExceeded, DeviceClock, ValidationRules};
use super::{der, TrustProfile, VerifyFailure};
use crate::metrics::{Anchor, PinTarget, VerifyCause};

/// What webpki may search: the anchors, and `None` (every intermediate the
/// server sent) or the one path a device model's builder chose.
type ChosenPath<'a, 'c> = (
    &'a [rustls_pki_types::TrustAnchor<'static>],
    Option<Vec<CertificateDer<'c>>>,
);

/// Where a verified path ended, from the anchor's family (Starfield G2 is
/// reached through the Amazon Root CA 1 cross-certificate).
fn anchor_of(f: AnchorFamily) -> Anchor {
    match f {
        AnchorFamily::Legacy => Anchor::LegacyRsa,
        AnchorFamily::AtsRsa => Anchor::AtsRsa,
        AnchorFamily::AtsEcc => Anchor::AtsEcc,
        AnchorFamily::Starfield => Anchor::CrossSigned,
        AnchorFamily::Other => Anchor::Other,
    }
}

/// The probe packs an anchor into one atomic word: its index in
/// [`Anchor::ALL`].
fn anchor_code(a: Anchor) -> u32 {
    Anchor::ALL.iter().position(|x| *x == a).unwrap_or(0) as u32
}

fn anchor_from_code(c: u32) -> Anchor {
    Anchor::ALL
        .get(c as usize)
        .copied()
        .unwrap_or(Anchor::Other)
}

/// What a successful verification found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    /// Index of the matched anchor in the profile.
    pub anchor_index: usize,
    /// Shape of the path.
    pub kind: Anchor,
    /// Certificates on the path, leaf and anchor included.
    pub path_len: u8,
}

/// Verifies server chains against one trust profile. Shared by every
/// connection using the profile; holds no per-connection state.
pub struct ChainVerifier {
    profile: Arc<TrustProfile>,
    algs: WebPkiSupportedAlgorithms,
    rules: ValidationRules,
    /// The anchors' subjects, read once for the model's path builder.
    anchor_subjects: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ChainVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("profile", &self.profile.name)
            .finish()
    }
}

impl ChainVerifier {
    /// A verifier for `profile` using the aws-lc-rs signature algorithms.
    pub fn new(profile: Arc<TrustProfile>) -> ChainVerifier {
        ChainVerifier {
            profile,
            algs: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
            rules: ValidationRules::default(),
            anchor_subjects: Vec::new(),
        }
    }

    /// The same verifier applying a device model's `rules` (path builder,
    /// clock, pins, input buffer).
    pub fn with_rules(mut self, rules: ValidationRules) -> ChainVerifier {
        if rules.builder != PathBuilder::Webpki {
            self.anchor_subjects = self
                .profile
                .anchors
                .iter()
                .map(|a| a.subject.as_ref().to_vec())
                .collect();
        }
        self.rules = rules;
        self
    }

    /// The rules applied.
    pub fn rules(&self) -> &ValidationRules {
        &self.rules
    }

    /// A verifier using `provider`'s signature algorithms (e.g. an
    /// ECDSA-only device's).
    pub fn new_with_provider(
        profile: Arc<TrustProfile>,
        provider: &rustls::crypto::CryptoProvider,
    ) -> ChainVerifier {
        ChainVerifier {
            profile,
            algs: provider.signature_verification_algorithms,
            rules: ValidationRules::default(),
            anchor_subjects: Vec::new(),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &TrustProfile {
        &self.profile
    }

    /// Verifies `end_entity` + `intermediates` for `server_name` at `now`:
    /// the same path building and name check as rustls' WebPkiServerVerifier,
    /// plus the profile's distrust policies on each candidate path. With a
    /// device model's rules, the model's builder chooses the path first and
    /// webpki verifies exactly that path, at the device's clock; pins are
    /// checked on the verified path.
    pub fn verify(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<VerifiedChain, VerifyFailure> {
        let p = &*self.profile;
        if p.accept_any {
            return Ok(VerifiedChain {
                anchor_index: 0,
                kind: Anchor::Other,
                path_len: 1 + intermediates.len() as u8,
            });
        }
        let now = self.rules.clock.read(now);
        let ee =
            webpki::EndEntityCert::try_from(end_entity).map_err(|e| self.failure(&e, None, now))?;
        let name_check = || {
            ee.verify_is_valid_for_subject_name(server_name)
                .map_err(|e| self.failure(&e, None, now))
        };
        if self.rules.order == CheckOrder::LeafDatesNamePath {
            self.check_leaf_dates(end_entity, now)?;
            name_check()?;
        }
        let (anchors, chosen) = self.choose_path(end_entity, intermediates, now)?;
        if self.rules.order == CheckOrder::PathNameDates {
            name_check()?;
        }
        let sent: &[CertificateDer<'_>] = match &chosen {
            Some(c) => c,
            None => intermediates,
        };
        let rejected: Cell<Option<Distrust>> = Cell::new(None);
        let check = |path: &webpki::VerifiedPath<'_>| -> Result<(), webpki::Error> {
            let idx = anchor_index(p, path.anchor());
            let mids_owned: Vec<CertificateDer<'_>> =
                path.intermediate_certificates().map(|c| c.der()).collect();
            let mid_refs: Vec<&[u8]> = mids_owned.iter().map(|d| d.as_ref()).collect();
            let view = PathView {
                leaf: end_entity.as_ref(),
                intermediates: &mid_refs,
                anchor: &p.anchor_info[idx],
            };
            for policy in &p.policies {
                if let Err(d) = policy.check(&view) {
                    rejected.set(Some(d));
                    return Err(webpki::Error::CertDistrusted);
                }
            }
            Ok(())
        };
        // Without policies, pass no callback: exactly rustls' own call.
        let callback: Option<&PathCheck<'_>> = if p.policies.is_empty() {
            None
        } else {
            Some(&check)
        };
        let path = ee
            .verify_for_usage(
                self.algs.all,
                anchors,
                sent,
                now,
                webpki::KeyUsage::server_auth(),
                None,
                callback,
            )
            .map_err(|e| self.failure(&e, rejected.take(), now))?;
        let idx = anchor_index(p, path.anchor());
        let path_len = 2 + path.intermediate_certificates().count() as u8;
        if self.rules.order == CheckOrder::PathDatesName {
            name_check()?;
        }
        if !self.rules.pins.is_empty() {
            let first_mid = path.intermediate_certificates().next().map(|c| c.der());
            let spki_of = |t: PinTarget| -> [u8; 32] {
                let cert_spki = |d: &[u8]| super::spki_sha256(d).unwrap_or([0; 32]);
                match (t, &first_mid) {
                    (PinTarget::Leaf, _) => cert_spki(end_entity.as_ref()),
                    (PinTarget::Intermediate, Some(m)) => cert_spki(m.as_ref()),
                    // A leaf issued by the anchor itself: its issuer is the root.
                    (PinTarget::Intermediate, None) | (PinTarget::Root, _) => {
                        p.anchor_info[idx].spki_sha256
                    }
                }
            };
            if let Some(t) = self.rules.pin_mismatch(spki_of) {
                return Err(VerifyFailure {
                    cause: VerifyCause::PinMismatch(t),
                    message: format!(
                        "the {} key on the verified path is not the pinned one",
                        t.label()
                    ),
                });
            }
        }
        Ok(VerifiedChain {
            anchor_index: idx,
            kind: anchor_of(p.anchor_info[idx].family),
            path_len,
        })
    }

    /// The anchors and intermediates webpki may use: all of them for
    /// webpki's own search, or the one path the model's builder chose.
    fn choose_path<'c>(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'c>],
        now: UnixTime,
    ) -> Result<ChosenPath<'_, 'c>, VerifyFailure> {
        let p = &*self.profile;
        if self.rules.builder == PathBuilder::Webpki {
            return Ok((&p.anchors, None));
        }
        let secs = now.as_secs() as i64;
        match path::choose(
            self.rules.builder,
            end_entity.as_ref(),
            intermediates,
            &self.anchor_subjects,
            secs,
        ) {
            // Unreadable certificates: let webpki say what is wrong.
            None => Ok((&p.anchors, None)),
            Some(Ok(c)) => Ok((
                std::slice::from_ref(&p.anchors[c.anchor]),
                Some(
                    c.intermediates
                        .iter()
                        .map(|&i| intermediates[i].clone())
                        .collect(),
                ),
            )),
            Some(Err(NoPath::NoAltChains)) => Err(VerifyFailure {
                cause: VerifyCause::UnknownIssuerNoAltChains,
                message: format!(
                    "{}: the server's chain leads to an issuer profile {} does not hold, and the \
                     library does not retry with a shorter path",
                    self.rules.builder.name(),
                    p.name
                ),
            }),
            Some(Err(NoPath::UnknownIssuer)) => Err(VerifyFailure {
                cause: VerifyCause::UnknownIssuer,
                message: format!(
                    "{}: no path to any anchor of profile {}",
                    self.rules.builder.name(),
                    p.name
                ),
            }),
        }
    }

    /// The leaf's validity alone, as Go checks it before anything else.
    fn check_leaf_dates(
        &self,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
    ) -> Result<(), VerifyFailure> {
        let Some((from, to)) = der::tbs(end_entity.as_ref()).and_then(|v| v.validity()) else {
            return Ok(());
        };
        let secs = now.as_secs() as i64;
        let at =
            |t: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64));
        let e = if secs < from {
            webpki::Error::CertNotValidYet {
                time: now,
                not_before: at(from),
            }
        } else if secs > to {
            webpki::Error::CertExpired {
                time: now,
                not_after: at(to),
            }
        } else {
            return Ok(());
        };
        Err(self.failure(&e, None, now))
    }

    /// A webpki error in the taxonomy; validity failures name the device's
    /// clock when it is not the host's.
    fn failure(
        &self,
        e: &webpki::Error,
        distrust: Option<Distrust>,
        now: UnixTime,
    ) -> VerifyFailure {
        let mut f = VerifyFailure::from_webpki(e, distrust, &self.profile.name);
        if self.rules.clock != DeviceClock::Exact {
            // `now` is already the device's time.
            let date = DeviceClock::Exact.date(now);
            f.cause = match f.cause {
                VerifyCause::Expired => VerifyCause::ExpiredAtClock(date),
                VerifyCause::NotYetValid => VerifyCause::NotYetValidAtClock(date),
                other => other,
            };
        }
        f
    }

    /// Fails when the Certificate message carrying this chain would not fit
    /// the device's TLS input buffer.
    pub fn check_input_buffer(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), DeviceBufferExceeded> {
        let Some(buf) = self.rules.input_buffer else {
            return Ok(());
        };
        let lens = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().len());
        let message = crate::pki::certificate_message_len(lens, buf.layout) as u32;
        if message > buf.bytes {
            return Err(DeviceBufferExceeded {
                message,
                buffer: buf.bytes,
                mfl_offered: buf.mfl_offered,
            });
        }
        Ok(())
    }
}

/// The callback webpki runs on each candidate path.
type PathCheck<'a> = dyn Fn(&webpki::VerifiedPath<'_>) -> Result<(), webpki::Error> + 'a;

/// Finds the anchor webpki matched: it returns a reference into our slice.
fn anchor_index(p: &TrustProfile, anchor: &rustls_pki_types::TrustAnchor<'_>) -> usize {
    p.anchors
        .iter()
        .position(|a| std::ptr::eq(a, anchor))
        .or_else(|| {
            p.anchors.iter().position(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            })
        })
        .expect("webpki only returns anchors it was given")
}

/// One validation as the probe saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationSample {
    /// Wall time of the validation, monotonic clock, nanoseconds.
    pub nanos: u64,
    /// `Ok((anchor index, path kind))` or the failure cause code.
    pub outcome: Result<(u16, Anchor), CauseCode>,
}

/// A failure cause packed into a byte, with the index of the rejecting
/// policy for `Distrusted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CauseCode {
    code: u8,
    policy: u8,
}

impl CauseCode {
    fn pack(c: &VerifyCause, profile: &TrustProfile) -> CauseCode {
        let (code, policy) = match c {
            VerifyCause::UnknownIssuer => (1, 0),
            VerifyCause::Expired => (2, 0),
            VerifyCause::NotYetValid => (3, 0),
            VerifyCause::NameMismatch => (4, 0),
            VerifyCause::BadSignature => (5, 0),
            VerifyCause::UnknownIssuerNoAltChains => (8, 0),
            VerifyCause::NotYetValidAtClock(_) => (9, 0),
            VerifyCause::ExpiredAtClock(_) => (10, 0),
            VerifyCause::PinMismatch(t) => (11, *t as u8),
            VerifyCause::Distrusted(name) => (
                6,
                profile
                    .policies
                    .iter()
                    .position(|p| &p.name == name)
                    .map(|i| i as u8)
                    .unwrap_or(u8::MAX),
            ),
            _ => (7, 0),
        };
        CauseCode { code, policy }
    }

    /// Unpacks the cause, naming the policy from the profile. Clock
    /// failures come back without their date (use the failure itself).
    pub fn cause(self, profile: &TrustProfile) -> VerifyCause {
        match self.code {
            8 => VerifyCause::UnknownIssuerNoAltChains,
            9 => VerifyCause::NotYetValid,
            10 => VerifyCause::Expired,
            11 => VerifyCause::PinMismatch(match self.policy {
                0 => PinTarget::Leaf,
                1 => PinTarget::Intermediate,
                _ => PinTarget::Root,
            }),
            1 => VerifyCause::UnknownIssuer,
            2 => VerifyCause::Expired,
            3 => VerifyCause::NotYetValid,
            4 => VerifyCause::NameMismatch,
            5 => VerifyCause::BadSignature,
            6 => VerifyCause::Distrusted(
                profile
                    .policies
                    .get(self.policy as usize)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| "webpki".into()),
            ),
            _ => VerifyCause::Other,
        }
    }
}

/// Per-connection slot the verifier writes its timing into. Plain atomics:
/// the writer is the handshake, the reader the same task after it, so there
/// is never contention and never a lock.
#[derive(Debug, Default)]
pub struct ValidationProbe {
    nanos: AtomicU64,
    /// bit 31: set once written; bits 16..24: outcome code (0 = ok);
    /// bits 8..16: policy index; bits 0..8: path kind.
    meta: AtomicU32,
    anchor: AtomicU32,
}

const WRITTEN: u32 = 1 << 31;

impl ValidationProbe {
    fn record(&self, nanos: u64, outcome: &Result<VerifiedChain, CauseCode>) {
        let (meta, anchor) = match outcome {
            Ok(v) => (anchor_code(v.kind), v.anchor_index as u32),
            Err(c) => ((u32::from(c.code) << 16) | (u32::from(c.policy) << 8), 0),
        };
        self.nanos.store(nanos, Ordering::Relaxed);
        self.anchor.store(anchor, Ordering::Relaxed);
        self.meta.store(meta | WRITTEN, Ordering::Release);
    }

    /// The last validation, if one ran; clears the slot.
    pub fn take(&self) -> Option<ValidationSample> {
        let meta = self.meta.swap(0, Ordering::Acquire);
        if meta & WRITTEN == 0 {
            return None;
        }
        let code = ((meta >> 16) & 0xff) as u8;
        let outcome = if code == 0 {
            Ok((
                self.anchor.load(Ordering::Relaxed) as u16,
                anchor_from_code(meta & 0xff),
            ))
        } else {
            Err(CauseCode {
                code,
                policy: ((meta >> 8) & 0xff) as u8,
            })
        };
        Some(ValidationSample {
            nanos: self.nanos.load(Ordering::Relaxed),
            outcome,
        })
    }
}

tokio::task_local! {
    /// The probe of the connection being handshaken by the current task.
    static TASK_PROBE: Arc<ValidationProbe>;
}

/// Runs `fut` (a TLS handshake) with `probe` as the place where any
/// [`TimedVerifier`] it calls reports. This is how one `ClientConfig` (one
/// verifier) is shared by thousands of devices while each connection still
/// gets its own timing, without a lock: the verifier runs inside the
/// handshake's poll, in the task that owns the probe.
pub async fn with_probe<F: std::future::Future>(probe: Arc<ValidationProbe>, fut: F) -> F::Output {
    TASK_PROBE.scope(probe, fut).await
}

/// A rustls [`ServerCertVerifier`] that times each chain validation and
/// writes the result into the calling task's probe (see [`with_probe`]), or
/// into its own [`ValidationProbe`] outside such a scope.
#[derive(Debug)]
pub struct TimedVerifier {
    core: Arc<ChainVerifier>,
    probe: Arc<ValidationProbe>,
}

impl TimedVerifier {
    /// A verifier with a fresh probe.
    pub fn new(core: Arc<ChainVerifier>) -> TimedVerifier {
        TimedVerifier {
            core,
            probe: Arc::new(ValidationProbe::default()),
        }
    }

    /// The probe to read after the handshake.
    pub fn probe(&self) -> Arc<ValidationProbe> {
        Arc::clone(&self.probe)
    }

    /// The shared core.
    pub fn core(&self) -> &Arc<ChainVerifier> {
        &self.core
    }
}

impl ServerCertVerifier for TimedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The device drops the record before it parses a certificate.
        if let Err(e) = self.core.check_input_buffer(end_entity, intermediates) {
            return Err(rustls::Error::Other(rustls::OtherError(Arc::new(e))));
        }
        let start = Instant::now();
        let result = self
            .core
            .verify(end_entity, intermediates, server_name, now);
        let nanos = start.elapsed().as_nanos() as u64;
        let profile = self.core.profile();
        let packed = result
            .as_ref()
            .map(|v| *v)
            .map_err(|f| CauseCode::pack(&f.cause, profile));
        if TASK_PROBE.try_with(|p| p.record(nanos, &packed)).is_err() {
            self.probe.record(nanos, &packed);
        }
        match result {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            Err(f) => Err(f.to_rustls()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.core.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.core.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.core.algs.supported_schemes()
    }
}
