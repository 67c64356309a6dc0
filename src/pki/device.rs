//! Minting client certificates for mutual TLS: one per simulated device,
//! CN = the device's client id, ECDSA P-256 keys so thousands are cheap.

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use super::bundle::{Issuer, PkiBundle};
use super::generate::{device_params, new_key};
use super::role::Role;
use super::spec::KeyKind;
use super::PkiError;

/// The device CA of a PKI, able to sign client certificates.
pub struct DeviceCa<'a> {
    issuer: &'a Issuer,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// A device's client certificate and key.
#[derive(Debug)]
pub struct DeviceIdentity {
    /// The client id written as the certificate's CN.
    pub client_id: String,
    /// The client certificate.
    pub cert: CertificateDer<'static>,
    /// Its P-256 private key, PKCS#8.
    pub key: PrivateKeyDer<'static>,
}

impl PkiBundle {
    /// The device CA, for minting client certificates.
    pub fn device_ca(&self) -> DeviceCa<'_> {
        let today = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT);
        DeviceCa {
            issuer: &self.issuers[&Role::DeviceCa],
            not_before: today - Duration::days(1),
            not_after: today + Duration::days(365),
        }
    }
}

impl DeviceCa<'_> {
    /// The CA certificate a server's client verifier must trust.
    pub fn cert(&self) -> &CertificateDer<'static> {
        self.issuer.cert.der()
    }

    /// Mints one device certificate with a fresh P-256 key.
    pub fn mint(&self, client_id: &str) -> Result<DeviceIdentity, PkiError> {
        let key = new_key(KeyKind::EcP256, "device key")?;
        let cert = device_params(client_id, self.not_before, self.not_after)
            .signed_by(&key, &self.issuer.cert, &self.issuer.key)
            .map_err(|source| PkiError::Generate {
                role: format!("device certificate {client_id}"),
                source,
            })?;
        Ok(DeviceIdentity {
            client_id: client_id.to_string(),
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}
