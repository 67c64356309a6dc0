//! The target a run connects to: the scenario's external addresses, or the
//! embedded mock endpoint started in this process (its own runtime and
//! threads; the engine reaches it over loopback sockets only).

use std::net::SocketAddr;
use std::time::Duration;

use super::RunError;
use crate::endpoint::{Endpoint, EndpointConfig, EndpointHandle, ListenerConfig, MqttLimits};
use crate::pki::PkiBundle;
use crate::scenario::schema::TargetKind;
use crate::scenario::Scenario;

/// The target a run connects to, started.
pub(super) struct Started {
    /// Where the devices connect.
    pub targets: Vec<SocketAddr>,
    /// One line for the summary.
    pub description: String,
    /// The embedded endpoint and its runtime, when the scenario asks for it.
    embedded: Option<(EndpointHandle, tokio::runtime::Runtime)>,
}

impl Started {
    /// Whether any target is outside loopback.
    pub fn remote(&self) -> bool {
        self.targets
            .iter()
            .any(|a| !crate::safety::is_loopback(a.ip()))
    }

    /// Stops the embedded endpoint (open sessions get two seconds).
    pub fn stop(self) {
        if let Some((h, rt)) = self.embedded {
            rt.block_on(h.shutdown(Duration::from_secs(2)));
            rt.shutdown_background();
        }
    }
}

/// Starts the embedded endpoint, or takes the external addresses.
pub(super) fn start(s: &Scenario, pki: &PkiBundle) -> Result<Started, RunError> {
    if s.target.kind != TargetKind::Embedded {
        let a: Vec<SocketAddr> = s.target.addresses.clone();
        let list: Vec<String> = a.iter().map(|x| x.to_string()).collect();
        return Ok(Started {
            targets: a,
            description: format!("external {}", list.join(", ")),
            embedded: None,
        });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("chainstorm-endpoint")
        .enable_all()
        .build()
        .map_err(|source| RunError::Start {
            what: "the endpoint runtime".into(),
            source,
        })?;
    let e = &s.target.endpoint;
    let cfg = EndpointConfig {
        listeners: vec![ListenerConfig {
            addr: "127.0.0.1:0".parse().expect("literal"),
            mode: e.listener,
        }],
        account_prefix: Some(s.target.account_prefix.clone()),
        require_sni: true,
        settings: e.settings.clone(),
        mqtt: MqttLimits::default(),
        handshake_timeout_s: handshake_timeout_s(s),
        reuse_port: false,
        no_alpn: Default::default(),
    };
    let handle = rt.block_on(Endpoint::start(cfg, pki))?;
    let addr = handle.addrs()[0].1;
    Ok(Started {
        targets: vec![addr],
        description: format!("embedded mock endpoint on {addr} ({})", e.listener.label()),
        embedded: Some((handle, rt)),
    })
}

/// The embedded endpoint's handshake timeout: 10 s, or longer when a group
/// is on an emulated link. The emulated TCP connect (its round trip and SYN
/// retransmissions) is taken after the loopback connect, so it falls inside
/// the server's wait, which on a real link starts only once the SYN got
/// through: the server waits as long as such a device may take.
fn handshake_timeout_s(s: &Scenario) -> f64 {
    s.groups
        .iter()
        .filter(|g| !g.link.is_loopback())
        .map(|g| (g.timeouts.0 + g.timeouts.1).as_secs_f64())
        .fold(10.0, f64::max)
}
