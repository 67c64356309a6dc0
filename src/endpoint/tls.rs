//! Server TLS configurations: one per (chain, listener mode), built once at
//! start, with the security policy's versions and suites, optional mutual
//! TLS against the device CA, and resumption off unless asked for.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::config::{EndpointConfig, ListenerMode, MtlsMode, SecurityPolicy, ALPN_MQTT_CA};
use super::EndpointError;
use crate::pki::{ChainKind, PkiBundle, Role};

/// The provider of AWS IoT's default policy.
pub fn aws_iot_provider() -> CryptoProvider {
    SecurityPolicy::default().provider()
}

/// The protocol versions a policy allows.
pub fn versions_for(policy: SecurityPolicy) -> &'static [&'static SupportedProtocolVersion] {
    policy.versions()
}

/// Prebuilt server configurations.
pub struct TlsConfigs {
    configs: HashMap<(ChainKind, ListenerMode), Arc<ServerConfig>>,
}

impl TlsConfigs {
    /// Builds a configuration for every chain the endpoint may present.
    pub fn build(cfg: &EndpointConfig, pki: &PkiBundle) -> Result<TlsConfigs, EndpointError> {
        let provider = Arc::new(cfg.settings.security_policy.provider());
        let mut chains = vec![
            ChainKind::Legacy,
            ChainKind::AtsRsaCrossSigned,
            ChainKind::AtsEcc,
        ];
        if let Some(b) = cfg.settings.faults.broken_chain {
            chains.push(b);
        }
        for k in cfg.settings.rotation.chains() {
            if !chains.contains(&k) {
                chains.push(k);
            }
        }
        let client_verifier = match cfg.settings.mtls {
            MtlsMode::Off => None,
            mode => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(pki.cert(Role::DeviceCa).clone())
                    .map_err(tls_err("device CA"))?;
                let b =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let b = if mode == MtlsMode::Optional {
                    b.allow_unauthenticated()
                } else {
                    b
                };
                Some(b.build().map_err(tls_err("client verifier"))?)
            }
        };
        let ticketer = if cfg.settings.resumption {
            Some(rustls::crypto::aws_lc_rs::Ticketer::new().map_err(tls_err("ticketer"))?)
        } else {
            None
        };
        let mut configs = HashMap::new();
        let modes: Vec<ListenerMode> = cfg.listeners.iter().map(|l| l.mode).collect();
        for kind in chains {
            let served = pki.chain(kind);
            for &mode in &modes {
                let builder = ServerConfig::builder_with_provider(provider.clone())
                    .with_protocol_versions(versions_for(cfg.settings.security_policy))
                    .map_err(tls_err("protocol versions"))?;
                let builder = match &client_verifier {
                    Some(v) => builder.with_client_cert_verifier(v.clone()),
                    None => builder.with_no_client_auth(),
                };
                let mut sc = builder
                    .with_single_cert(served.certs.clone(), served.key.clone_key())
                    .map_err(tls_err(kind.name()))?;
                // The policy's order decides (AWS does not publish whether
                // it prefers its own order; unconfirmed).
                sc.ignore_client_order = true;
                // Held sessions shed rustls for their traffic keys
                // (`transport::TlsStream::shed`).
                sc.enable_secret_extraction = true;
                if mode == ListenerMode::MqttAlpn {
                    sc.alpn_protocols = vec![ALPN_MQTT_CA.to_vec()];
                }
                match &ticketer {
                    Some(t) => {
                        sc.ticketer = t.clone();
                        sc.session_storage = ServerSessionMemoryCache::new(16 * 1024);
                        sc.send_tls13_tickets = 1;
                    }
                    None => {
                        // AWS IoT sends no tickets and keeps no session cache.
                        sc.session_storage = Arc::new(NoServerSessionStorage {});
                        sc.send_tls13_tickets = 0;
                    }
                }
                configs.insert((kind, mode), Arc::new(sc));
            }
        }
        Ok(TlsConfigs { configs })
    }

    /// The configuration for a chain on a listener.
    pub fn get(&self, kind: ChainKind, mode: ListenerMode) -> Option<Arc<ServerConfig>> {
        self.configs.get(&(kind, mode)).cloned()
    }
}

/// An [`EndpointError::Tls`] for `what`.
fn tls_err<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl FnOnce(E) -> EndpointError + '_ {
    move |e| EndpointError::Tls {
        what: what.to_string(),
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumption_switch_sets_tickets() {
        let pki = PkiBundle::generate(crate::pki::PkiConfig::default()).unwrap();
        let mut cfg = EndpointConfig::mqtt("127.0.0.1:0".parse().unwrap());
        let off = TlsConfigs::build(&cfg, &pki).unwrap();
        let c = off
            .get(ChainKind::AtsRsaCrossSigned, ListenerMode::Mqtt)
            .unwrap();
        assert_eq!(c.send_tls13_tickets, 0);
        assert!(!c.ticketer.enabled());
        cfg.settings.resumption = true;
        let on = TlsConfigs::build(&cfg, &pki).unwrap();
        let c = on
            .get(ChainKind::AtsRsaCrossSigned, ListenerMode::Mqtt)
            .unwrap();
        assert_eq!(c.send_tls13_tickets, 1);
        assert!(c.ticketer.enabled());
    }
}
