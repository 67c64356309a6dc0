//! Mapping verification errors to the taxonomy, and back from rustls errors.

use std::sync::Arc;

use rustls::{CertificateError, OtherError};

use crate::metrics::VerifyCause;

/// A rejected chain: the cause in the taxonomy and a readable message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{cause}: {message}")]
pub struct VerifyFailure {
    /// Taxonomy cause.
    pub cause: VerifyCause,
    /// What happened, in the imitated client's words where it has them.
    pub message: String,
}

impl VerifyFailure {
    /// Classifies a webpki error. `distrust` is the policy rejection recorded
    /// during path building, if any.
    pub(crate) fn from_webpki(
        err: &webpki::Error,
        distrust: Option<super::Distrust>,
        profile: &str,
    ) -> VerifyFailure {
        use webpki::Error as E;
        let (cause, message) = match err {
            E::CertDistrusted => match distrust {
                Some(d) => (VerifyCause::Distrusted(d.policy), d.message),
                None => (
                    VerifyCause::Distrusted("webpki".into()),
                    "key is on webpki's built-in distrust list".into(),
                ),
            },
            E::UnknownIssuer => (
                VerifyCause::UnknownIssuer,
                format!("no path to any anchor of profile {profile}"),
            ),
            E::CertExpired { time, not_after } => (
                VerifyCause::Expired,
                format!(
                    "certificate expired at unix {} (now {})",
                    not_after.as_secs(),
                    time.as_secs()
                ),
            ),
            E::CertNotValidYet { time, not_before } => (
                VerifyCause::NotYetValid,
                format!(
                    "certificate not valid before unix {} (now {})",
                    not_before.as_secs(),
                    time.as_secs()
                ),
            ),
            E::CertNotValidForName(ctx) => (
                VerifyCause::NameMismatch,
                format!(
                    "certificate names {:?} do not cover {:?}",
                    ctx.presented, ctx.expected
                ),
            ),
            E::InvalidSignatureForPublicKey => (
                VerifyCause::BadSignature,
                "signature does not verify".into(),
            ),
            other => (VerifyCause::Other, format!("{other:?}")),
        };
        VerifyFailure { cause, message }
    }

    /// The rustls error to abort the handshake with. Standard causes use the
    /// standard variants so rustls sends the matching alert (unknown_ca,
    /// certificate_expired, ...); the failure itself rides inside `Other` for
    /// the rest and can be recovered with [`VerifyFailure::from_rustls`].
    pub fn to_rustls(&self) -> rustls::Error {
        let e = match self.cause {
            VerifyCause::UnknownIssuer => CertificateError::UnknownIssuer,
            VerifyCause::Expired => CertificateError::Expired,
            VerifyCause::NotYetValid => CertificateError::NotValidYet,
            VerifyCause::NameMismatch => CertificateError::NotValidForName,
            VerifyCause::BadSignature => CertificateError::BadSignature,
            _ => CertificateError::Other(OtherError(Arc::new(self.clone()))),
        };
        rustls::Error::InvalidCertificate(e)
    }

    /// Recovers the cause from a rustls error raised by any verifier
    /// (ours or rustls' own). `None` when the error is not about the
    /// certificate.
    pub fn from_rustls(err: &rustls::Error) -> Option<VerifyFailure> {
        let rustls::Error::InvalidCertificate(ce) = err else {
            return None;
        };
        let cause = match ce {
            CertificateError::UnknownIssuer => VerifyCause::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                VerifyCause::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                VerifyCause::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                VerifyCause::NameMismatch
            }
            CertificateError::BadSignature => VerifyCause::BadSignature,
            CertificateError::Other(OtherError(inner)) => {
                if let Some(f) = inner.downcast_ref::<VerifyFailure>() {
                    return Some(f.clone());
                }
                VerifyCause::Other
            }
            _ => VerifyCause::Other,
        };
        let message = match cause {
            VerifyCause::UnknownIssuer => {
                "no path from the server's chain to any anchor of the trust store".into()
            }
            VerifyCause::Expired => format!("a certificate of the chain has expired ({ce:?})"),
            VerifyCause::NotYetValid => {
                format!("a certificate of the chain is not valid yet ({ce:?})")
            }
            VerifyCause::NameMismatch => {
                format!("the certificate does not cover the server name ({ce:?})")
            }
            VerifyCause::BadSignature => "a signature of the chain does not verify".into(),
            _ => format!("{ce:?}"),
        };
        Some(VerifyFailure { cause, message })
    }
}
