//! What every worker and device shares for a run: groups with their TLS
//! configurations and names, the dialer, device certificates, signals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use rustls::sign::CertifiedKey;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use super::dialer::Dialer;
use super::EngineError;
use crate::client::{ClientConfigs, ClientKey};
use crate::pki::{regions, PkiBundle};
use crate::scenario::schema::{EndpointChoice, Protocol, Reconnect};
use crate::scenario::{DevicePlan, MigrationSpec, Plan, Scenario};
use crate::trust::TrustProfile;
use rustls::pki_types::ServerName;

/// A fleet group, ready to run.
pub(crate) struct GroupRt {
    pub name: String,
    pub protocol: Protocol,
    pub endpoint: EndpointChoice,
    pub keepalive_s: u16,
    pub hold: Duration,
    pub publish_per_s: f64,
    pub mtls: bool,
    /// The device model narrows its ClientHello (see `handshake_failure`).
    pub narrow_offer: bool,
    /// Server names, checked when the run is built so no device task can
    /// meet an invalid one.
    pub sni_legacy: ServerName<'static>,
    pub sni_ats: ServerName<'static>,
    pub config: Arc<rustls::ClientConfig>,
    /// The emulated link.
    pub link: crate::link::Link,
    /// Phase timeouts: dial (the emulated connect's), TLS, MQTT.
    pub timeouts: (Duration, Duration, Duration),
}

/// Run-wide state.
pub(crate) struct Shared {
    pub seed: u64,
    pub start: Instant,
    pub run_start: std::time::Instant,
    pub end: Instant,
    pub stop: watch::Receiver<bool>,
    pub abort: watch::Receiver<bool>,
    pub in_flight: Option<Arc<Semaphore>>,
    pub connected: Arc<AtomicI64>,
    pub groups: Vec<GroupRt>,
    pub dialer: Dialer,
    pub device_certs: HashMap<(u16, u32), Arc<CertifiedKey>>,
    pub reconnect: Reconnect,
    pub migration: Option<MigrationSpec>,
}

impl Shared {
    /// Moves the run's clock to `start` (after the build, so building does
    /// not count against the first arrivals).
    pub(crate) fn restart_at(&mut self, start: Instant, duration: Duration) {
        self.start = start;
        self.run_start = start.into_std();
        self.end = start + duration;
    }

    pub(crate) fn device_cert(&self, d: &DevicePlan) -> Option<Arc<CertifiedKey>> {
        self.device_certs.get(&(d.group, d.index)).cloned()
    }

    /// Which endpoint a device uses for an attempt at `t_s` seconds.
    pub(crate) fn endpoint_for(
        &self,
        d: &DevicePlan,
        g: &GroupRt,
        t_s: f64,
        attempt: u32,
    ) -> EndpointChoice {
        let Some(m) = &self.migration else {
            return g.endpoint;
        };
        if !m.groups.contains(&(d.group as usize)) {
            return g.endpoint;
        }
        if d.flips {
            // Dual-root devices switching back and forth at every reconnect.
            return if attempt % 2 == 0 {
                EndpointChoice::Legacy
            } else {
                EndpointChoice::Ats
            };
        }
        if d.rank < m.fraction_at(t_s) {
            EndpointChoice::Ats
        } else {
            EndpointChoice::Legacy
        }
    }
}

/// What building the shared state needs besides the scenario.
pub struct RunInputs<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its plan.
    pub plan: &'a Plan,
    /// The PKI (mock roots for profiles, device CA).
    pub pki: &'a PkiBundle,
    /// Where to connect.
    pub targets: Vec<SocketAddr>,
    /// Loopback source addresses to rotate over.
    pub source_addresses: usize,
    /// First source address index (shards use disjoint ranges).
    pub source_offset: usize,
    /// Shards the plan is split into (1 unsharded): this process runs 1/N
    /// of the arrival rate.
    pub shards: u32,
}

fn certified_key(id: &crate::pki::DeviceIdentity) -> Result<Arc<CertifiedKey>, EngineError> {
    Ok(crate::client::certified_key(
        vec![id.cert.clone()],
        id.key.clone_key(),
    )?)
}

fn server_name(name: String) -> Result<ServerName<'static>, EngineError> {
    ServerName::try_from(name.clone()).map_err(|_| EngineError::ServerName(name))
}

pub(crate) fn build(
    inp: &RunInputs<'_>,
    stop: watch::Receiver<bool>,
    abort: watch::Receiver<bool>,
    start: Instant,
) -> Result<Shared, EngineError> {
    let s = inp.scenario;
    let mut configs = ClientConfigs::default();
    let mut groups = Vec::new();
    for g in &s.groups {
        let m = &g.model;
        let key = ClientKey {
            profile: m.trust.clone(),
            offer: m.caps,
            alpn: s.target.alpn.clone(),
            mtls: g.mtls,
            rules: m.rules(inp.pki),
        };
        let (config, _profile) = configs.get_or_build(&key, || {
            TrustProfile::load(&m.trust, inp.pki).map_err(EngineError::Trust)
        })?;
        let prefix = &s.target.account_prefix;
        groups.push(GroupRt {
            name: g.name.clone(),
            protocol: g.protocol,
            endpoint: g.endpoint,
            keepalive_s: g.keepalive_s,
            hold: g.hold,
            publish_per_s: g.publish_per_s,
            mtls: g.mtls,
            narrow_offer: m.caps.narrowed(),
            sni_legacy: server_name(
                s.target
                    .sni_legacy
                    .clone()
                    .unwrap_or_else(|| regions::endpoint_host(prefix, &g.region, false)),
            )?,
            sni_ats: server_name(
                s.target
                    .sni_ats
                    .clone()
                    .unwrap_or_else(|| regions::endpoint_host(prefix, &g.region, true)),
            )?,
            config,
            link: g.link,
            timeouts: g.timeouts,
        });
    }
    // Device certificates are minted before the run: minting is not what
    // the run measures.
    let mut device_certs = HashMap::new();
    let shared_cert = match &s.target.client_cert {
        Some((c, k)) => Some(load_shared_cert(c, k)?),
        None => None,
    };
    for d in &inp.plan.devices {
        if !groups[d.group as usize].mtls {
            continue;
        }
        let ck = match (&shared_cert, &s.target.client_cert_dir) {
            (Some(c), _) => c.clone(),
            (None, Some(dir)) => load_shared_cert(
                &dir.join(format!("{}.pem", d.client_id)),
                &dir.join(format!("{}.key", d.client_id)),
            )?,
            (None, None) => {
                let id = inp
                    .pki
                    .device_ca()
                    .mint(&d.client_id)
                    .map_err(EngineError::Pki)?;
                certified_key(&id)?
            }
        };
        device_certs.insert((d.group, d.index), ck);
    }
    let in_flight = (s.arrival.max_in_flight > 0).then(|| {
        Arc::new(Semaphore::new(
            s.arrival.max_in_flight.min(Semaphore::MAX_PERMITS as u64) as usize,
        ))
    });
    Ok(Shared {
        seed: s.seed,
        start,
        run_start: std::time::Instant::now(),
        end: start + s.duration,
        stop,
        abort,
        in_flight,
        connected: Arc::new(AtomicI64::new(0)),
        groups,
        dialer: Dialer::new(
            inp.targets.clone(),
            inp.source_addresses,
            inp.source_offset,
            s.timeouts.0,
        ),
        device_certs,
        reconnect: Reconnect {
            policy: s.reconnect.policy,
            base_ms: s.reconnect.base_ms,
            cap_ms: s.reconnect.cap_ms,
            max_attempts: s.reconnect.max_attempts,
        },
        migration: s.migration.clone(),
    })
}

fn load_shared_cert(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<CertifiedKey>, EngineError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, e: &dyn std::fmt::Display| EngineError::ClientIdentity {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect())
        .map_err(|e| bad(cert, &e))?;
    let k = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    crate::client::certified_key(certs, k).map_err(|e| bad(key, &e))
}
