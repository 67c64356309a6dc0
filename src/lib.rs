//! chainstorm: a TLS handshake load tester and fuzzer for IoT endpoints.
//!
//! The library holds every stage of the data flow; the binary in `main.rs`
//! only parses arguments and dispatches. Layers, from the bottom:
//!
//! - [`pki`]: mock CA hierarchies imitating VeriSign G5 and Amazon Trust Services.
//! - [`metrics`]: the failure taxonomy shared by every layer that classifies.
//! - [`trust`]: trust profiles, distrust policies and the timed chain verifier.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod endpoint;
pub mod engine;
pub mod fuzzer;
pub mod link;
pub mod live;
pub mod metrics;
pub mod mix;
pub mod model;
pub mod mqtt;
pub mod pki;
pub mod probe;
pub mod results;
pub mod runner;
pub mod safety;
pub mod scenario;
pub mod signal;
pub mod transport;
pub mod trust;
pub mod ui;
pub mod wire;
