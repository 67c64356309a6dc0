//! The client side of TLS and MQTT, shared by every part that connects to an
//! endpoint: the load engine, the probe, the fuzzer's MQTT cases, the tests
//! and the examples. One place builds a rustls `ClientConfig`
//! ([`ClientOptions::build`]), one resolver offers client certificates, one
//! function classifies a failed handshake ([`handshake_failure`]), and one
//! exchange sends CONNECT and reads CONNACK ([`mqtt`]).
//!
//! Depends on `trust` (the verifier), `metrics` (causes) and `mqtt` (codec);
//! never on `engine`, `probe` or `fuzzer`, which depend on it.

mod cert;
mod classify;
mod config;
pub mod mqtt;
mod offer;

pub use cert::{certified_key, with_device_cert, DeviceCertResolver};
pub use classify::handshake_failure;
pub use config::{ClientAuth, ClientConfigs, ClientKey, ClientOptions};
pub use offer::{GroupOffer, KeyOffer, Offer, SuiteOffer};

/// Errors of the client layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// rustls refused the protocol versions asked for.
    #[error("TLS client configuration: {0}")]
    Versions(#[from] rustls::Error),
    /// A trust profile could not be resolved.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// A client key rustls cannot sign with.
    #[error("client key: {0}")]
    Key(#[source] rustls::Error),
}
