//! The network handshake fuzzer: a structured ClientHello model with an
//! encoder and parser, mutation operators, a response classifier sharing the
//! load engine's failure labels, and seeded campaigns with findings, a
//! corpus, replay and baselines.

pub mod campaign;
mod class;
pub mod classify;
pub use crate::wire::client_hello as hello;
pub mod mqtt;
pub mod mutate;
#[cfg(feature = "fuzzing")]
pub mod targets;

pub use class::{Class, Expected};
