//! The one client-certificate resolver. The engine shares a `ClientConfig`
//! between thousands of devices, so the certificate cannot live in the
//! config: it comes from the calling task (like the validation probe),
//! with an optional fixed certificate for single-identity clients (probe,
//! tests), so sharing a configuration costs nothing.

use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use super::ClientError;

/// A client identity as rustls presents it: the chain and its signing key
/// (RSA or ECDSA, PKCS#8, PKCS#1 or SEC1), loaded by the one crypto provider.
pub fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, ClientError> {
    let key = rustls::crypto::aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(ClientError::Key)?;
    Ok(Arc::new(CertifiedKey::new(chain, key)))
}

tokio::task_local! {
    /// The client certificate of the device whose handshake this task runs.
    static DEVICE_CERT: Option<Arc<CertifiedKey>>;
}

/// Runs `fut` with `cert` as the client certificate any [`DeviceCertResolver`] offers.
pub async fn with_device_cert<F: std::future::Future>(
    cert: Option<Arc<CertifiedKey>>,
    fut: F,
) -> F::Output {
    DEVICE_CERT.scope(cert, fut).await
}

/// Offers the current task's device certificate, else the fixed one.
#[derive(Debug, Default)]
pub struct DeviceCertResolver {
    fixed: Option<Arc<CertifiedKey>>,
}

impl DeviceCertResolver {
    /// A resolver that offers `cert` whenever the task sets none.
    pub fn fixed(cert: Arc<CertifiedKey>) -> Self {
        DeviceCertResolver { fixed: Some(cert) }
    }
}

impl ResolvesClientCert for DeviceCertResolver {
    fn resolve(&self, _hints: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        DEVICE_CERT
            .try_with(|c| c.clone())
            .ok()
            .flatten()
            .or_else(|| self.fixed.clone())
            .filter(|c| c.key.choose_scheme(schemes).is_some())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
