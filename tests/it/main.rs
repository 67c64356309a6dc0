//! Every integration test in one binary, so a test build links aws-lc,
//! rustls, ratatui and plotters once instead of once per area. One module
//! per area; `common` holds the shared fixtures.

mod common;

mod architecture;
mod browser_policy;
mod cli;
mod compare;
mod device_libs;
mod device_models;
mod device_zoo;
mod endpoint_aws;
mod endpoint_faults;
mod endpoint_limits;
mod endpoint_mqtt;
mod endpoint_paho;
mod endpoint_tls;
mod engine_mosquitto;
mod engine_run;
mod fuzz;
#[cfg(feature = "fuzzing")]
mod fuzz_corpus;
mod hostile;
mod interop;
mod jdk_policy;
mod keylog_tshark;
mod kubernetes;
mod links;
mod live_metrics;
mod mqtt_codec;
mod outside_tools;
mod pki_conformance;
mod probe;
mod report;
mod shard_merge;
mod transport;
mod trust_matrix;
mod tui_tmux;
mod ui_snapshots;
mod verifier_handshake;
