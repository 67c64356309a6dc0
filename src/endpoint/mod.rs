//! The mock IoT endpoint: TLS with SNI-routed chains imitating AWS IoT Core's
//! legacy (VeriSign) and ATS endpoints, mutual TLS, security policies, an
//! MQTT broker-lite, and deterministic fault injection.
//!
//! The engine never imports this module: it talks to an endpoint only over
//! sockets, even when both run in one process.

mod broker;
pub mod config;
mod counters;
mod faults;
mod listener;
mod policy;
pub mod rotation;
pub mod routing;
mod session;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    ConnackRefusal, Delay, EndpointConfig, EndpointSettings, Faults, KeyPreference, ListenerConfig,
    ListenerMode, MqttLimits, MtlsMode, NoAlpn, Outage, SecurityPolicy, ALPN_MQTT_CA,
};
pub use counters::{Counters, CountersSnapshot};
pub use faults::{ConnFault, ConnPlan};
pub use tls::{aws_iot_provider, versions_for, TlsConfigs};

use crate::pki::PkiBundle;

/// Errors starting an endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// A listener could not bind.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS object of the endpoint could not be built.
    #[error("TLS configuration: {what}")]
    Tls {
        /// Which object (`device CA`, `client verifier`, a chain's name, …).
        what: String,
        /// rustls' error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No listener was configured.
    #[error("endpoint configuration: no listeners")]
    NoListeners,
    /// A setting outside its allowed range.
    #[error("{key} = {value}: allowed {allowed}")]
    OutOfRange {
        /// The setting, as the scenario and `serve` spell it.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// `broken_chain` names a chain that is not one of the broken variants.
    #[error("broken_chain {}: not a broken variant", .0.name())]
    NotBroken(crate::pki::ChainKind),
}

/// Starts endpoints.
pub struct Endpoint;

/// A running endpoint: its addresses, live counters and shutdown.
pub struct EndpointHandle {
    addrs: Vec<(ListenerMode, SocketAddr)>,
    counters: Arc<Counters>,
    shared: Arc<listener::Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Endpoint {
    /// Binds every listener and starts serving. Must run inside a tokio runtime.
    pub async fn start(
        config: EndpointConfig,
        pki: &PkiBundle,
    ) -> Result<EndpointHandle, EndpointError> {
        if config.listeners.is_empty() {
            return Err(EndpointError::NoListeners);
        }
        config.settings.validate()?;
        let tls = tls::TlsConfigs::build(&config, pki)?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(listener::Shared {
            account_limit: config
                .settings
                .faults
                .account_connect_rate
                .map(|r| Arc::new(faults::TokenBucket::new(r))),
            client_limit: config
                .settings
                .faults
                .client_connect_rate
                .map(|r| Arc::new(faults::PerClientLimit::new(r))),
            default_region: pki.config().primary_region.clone(),
            broker: Arc::new(broker::Broker::new(
                counters.clone(),
                config.mqtt.max_queued,
            )),
            counters: counters.clone(),
            tls,
            config,
            assigned_seq: Arc::new(AtomicU64::new(1)),
            live: AtomicI64::new(0),
            started: tokio::time::Instant::now(),
            rotation: rotation::RotationCounter::default(),
        });
        let (tx, rx) = watch::channel(false);
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for (i, l) in shared.config.listeners.iter().enumerate() {
            let listener = listener::bind(l.addr, shared.config.reuse_port).map_err(|source| {
                EndpointError::Bind {
                    addr: l.addr,
                    source,
                }
            })?;
            let addr = listener
                .local_addr()
                .map_err(|source| EndpointError::Bind {
                    addr: l.addr,
                    source,
                })?;
            addrs.push((l.mode, addr));
            tasks.push(tokio::spawn(listener::accept_loop(
                i,
                l.mode,
                Some(listener),
                addr,
                shared.clone(),
                rx.clone(),
            )));
        }
        Ok(EndpointHandle {
            addrs,
            counters,
            shared,
            shutdown: tx,
            tasks,
        })
    }
}

impl EndpointHandle {
    /// Bound addresses, with each listener's mode.
    pub fn addrs(&self) -> &[(ListenerMode, SocketAddr)] {
        &self.addrs
    }

    /// The first address of a listener with `mode`.
    pub fn addr(&self, mode: ListenerMode) -> Option<SocketAddr> {
        self.addrs.iter().find(|(m, _)| *m == mode).map(|(_, a)| *a)
    }

    /// Live counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Connections being handled now (any phase).
    pub fn live_connections(&self) -> i64 {
        self.shared.live.load(Relaxed)
    }

    /// Stops accepting, tells sessions to close (5.0 sessions get DISCONNECT
    /// 0x8B), and waits up to `grace` for connections to finish.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.shared.live.load(Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
