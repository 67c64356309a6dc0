//! Trust decisions: profiles (root store + distrust policies), the policies
//! themselves, and the timed chain verifier plugged into rustls.

mod anchors;
mod der;
mod failure;
mod path;
mod policy;
mod profile;
mod rules;
mod verifier;

use std::path::PathBuf;

pub use anchors::{fingerprint, jdk_name, AnchorFamily, AnchorInfo};
pub use failure::VerifyFailure;
pub use path::PathBuilder;
pub use policy::{
    Distrust, DistrustPolicy, ExemptSubCa, Matcher, PathView, Window, Wording,
    FIREFOX_SYMANTEC_ROOT_CNS, JDK_SYMANTEC_EXEMPT_SUBCAS, JDK_SYMANTEC_ROOTS,
};
pub use profile::{read_pem_bundle, ProfileRef, TrustProfile, BUILTIN, DANGER_ACCEPT_ANY};
pub use rules::{CheckOrder, DeviceBufferExceeded, DeviceClock, InputBuffer, Pin, ValidationRules};
pub use verifier::{
    with_probe, CauseCode, ChainVerifier, TimedVerifier, ValidationProbe, ValidationSample,
    VerifiedChain,
};

/// The SHA-256 of a certificate's DER SubjectPublicKeyInfo (RFC 7469's
/// `pin-sha256`), read without a full parse; `None` for unreadable DER.
pub fn spki_sha256(cert_der: &[u8]) -> Option<[u8; 32]> {
    der::tbs(cert_der).map(|v| anchors::sha256(v.spki))
}

/// Errors of the trust layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A profile name that is not built in and not `pem:PATH`.
    #[error("unknown trust profile {name:?} (known: {known}, pem:PATH)")]
    UnknownProfile {
        /// The name given.
        name: String,
        /// The built-in names.
        known: String,
    },
    /// A PEM bundle could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM bundle holds no usable certificate.
    #[error("{path}: {reason}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A certificate cannot serve as a trust anchor.
    #[error("bad root certificate: {0}")]
    BadCertificate(String),
    /// The operating system's store could not be loaded.
    #[error("system root store unavailable: {0}")]
    SystemStore(String),
}
