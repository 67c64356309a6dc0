//! Mock CA hierarchies that imitate the VeriSign G5 / Symantec chain, the
//! Amazon Trust Services RSA and ECC chains, the Starfield cross-sign, a
//! device CA for mutual TLS, and broken variants for fault scenarios.
//!
//! [`PkiBundle::generate`] builds everything in memory; [`store`] writes it as
//! PEM files with a JSON manifest and reads it back, and
//! [`PkiBundle::load_or_generate`] reuses a cache directory so a run does not
//! pay for RSA key generation each time.

mod bundle;
mod describe;
mod device;
mod extensions;
mod generate;
pub mod regions;
mod role;
pub mod spec;
pub mod store;
mod wire;

use std::path::PathBuf;

pub use bundle::{ExtraCa, PkiBundle, PkiConfig, ServedChain};
pub use describe::{describe_cert, CertSummary};
pub use device::{DeviceCa, DeviceIdentity};
pub use generate::LeafSpec;
pub use role::{ChainKind, Role};
pub use wire::{certificate_message_len, CertMessageLayout};

/// Errors of the mock CA layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen refused to build a certificate or key.
    #[error("generating {role}")]
    Generate {
        /// What was being generated.
        role: String,
        /// rcgen's reason.
        #[source]
        source: rcgen::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what a PKI directory holds.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A certificate could not be parsed.
    #[error("cannot parse certificate: {0}")]
    Parse(String),
}
