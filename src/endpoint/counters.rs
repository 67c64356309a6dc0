//! Server-side counters: plain atomics bumped by connection tasks, read by
//! `serve`'s interval line and by tests through [`Counters::snapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use crate::pki::ChainKind;

const CHAINS: usize = ChainKind::ALL.len();

/// Live counters of one endpoint.
#[derive(Debug)]
pub struct Counters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Closed right after accept by the refuse fault.
    pub refused: AtomicU64,
    /// Reset after the ClientHello by the reset fault.
    pub reset: AtomicU64,
    /// Held without an answer by the stall fault.
    pub stalled: AtomicU64,
    /// ClientHellos that could not be routed (unknown name, no SNI).
    pub unknown_name: AtomicU64,
    /// Handshakes that did not complete.
    pub handshake_failed: AtomicU64,
    /// Connections without the required ALPN.
    pub alpn_rejected: AtomicU64,
    /// Completed handshakes by chain × version (index 0: TLS 1.2, 1: TLS 1.3).
    handshakes: [[AtomicU64; 2]; CHAINS],
    /// Handshakes that resumed a session.
    pub resumed: AtomicU64,
    /// Alerts received from clients by description code.
    alerts_received: [AtomicU64; 256],
    /// Alerts sent by this endpoint by description code (the ones it writes itself).
    alerts_sent: [AtomicU64; 256],
    /// CONNACKs sent, by code.
    connacks: [AtomicU64; 256],
    /// MQTT sessions open now.
    pub sessions_open: AtomicI64,
    /// PUBLISH packets received.
    pub publishes_in: AtomicU64,
    /// PUBLISH packets delivered to subscribers.
    pub publishes_out: AtomicU64,
    /// Deliveries dropped because a subscriber's queue was full.
    pub deliveries_dropped: AtomicU64,
    /// QoS 1 messages queued for persistent sessions whose client was away.
    pub messages_queued: AtomicU64,
    /// ClientHellos that offered max_fragment_length (ignored, as AWS does).
    pub mfl_offered: AtomicU64,
    /// Sessions closed for keep-alive silence.
    pub keepalive_timeouts: AtomicU64,
    /// Sessions closed because the same client id connected again.
    pub taken_over: AtomicU64,
    /// Sessions closed for a protocol violation (malformed packet, QoS 2, ...).
    pub protocol_errors: AtomicU64,
    /// `accept` calls that failed (EMFILE and the like); the listener backs off.
    pub accept_errors: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            reset: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
            unknown_name: AtomicU64::new(0),
            handshake_failed: AtomicU64::new(0),
            alpn_rejected: AtomicU64::new(0),
            handshakes: std::array::from_fn(|_| [AtomicU64::new(0), AtomicU64::new(0)]),
            resumed: AtomicU64::new(0),
            alerts_received: std::array::from_fn(|_| AtomicU64::new(0)),
            alerts_sent: std::array::from_fn(|_| AtomicU64::new(0)),
            connacks: std::array::from_fn(|_| AtomicU64::new(0)),
            sessions_open: AtomicI64::new(0),
            publishes_in: AtomicU64::new(0),
            publishes_out: AtomicU64::new(0),
            deliveries_dropped: AtomicU64::new(0),
            messages_queued: AtomicU64::new(0),
            mfl_offered: AtomicU64::new(0),
            keepalive_timeouts: AtomicU64::new(0),
            taken_over: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
        }
    }
}

/// A point-in-time copy of the counters (zero entries left out of maps).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CountersSnapshot {
    /// Connections accepted.
    pub accepted: u64,
    /// Refused by fault.
    pub refused: u64,
    /// Reset by fault.
    pub reset: u64,
    /// Stalled by fault.
    pub stalled: u64,
    /// Unroutable names.
    pub unknown_name: u64,
    /// Failed handshakes.
    pub handshake_failed: u64,
    /// Missing ALPN.
    pub alpn_rejected: u64,
    /// Completed handshakes, keyed `"<chain>/<version>"`.
    pub handshakes: BTreeMap<String, u64>,
    /// Resumed handshakes.
    pub resumed: u64,
    /// Alerts received, keyed by description.
    pub alerts_received: BTreeMap<String, u64>,
    /// Alerts sent, keyed by description.
    pub alerts_sent: BTreeMap<String, u64>,
    /// CONNACK codes sent.
    pub connacks: BTreeMap<u8, u64>,
    /// Sessions open now.
    pub sessions_open: i64,
    /// PUBLISH in.
    pub publishes_in: u64,
    /// PUBLISH delivered.
    pub publishes_out: u64,
    /// Deliveries dropped.
    pub deliveries_dropped: u64,
    /// Messages queued for away persistent sessions.
    pub messages_queued: u64,
    /// ClientHellos offering max_fragment_length.
    pub mfl_offered: u64,
    /// Keep-alive timeouts.
    pub keepalive_timeouts: u64,
    /// Take-overs.
    pub taken_over: u64,
    /// Protocol errors.
    pub protocol_errors: u64,
    /// Failed `accept` calls.
    pub accept_errors: u64,
}

impl CountersSnapshot {
    /// The counters in the Prometheus text format (`serve --metrics-listen`).
    pub fn to_prometheus(&self) -> String {
        use crate::metrics::exposition::escape;
        use std::fmt::Write;
        let mut o = String::new();
        let mut counter = |name: &str, help: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in rows {
                let _ = writeln!(o, "{name}{labels} {v}");
            }
        };
        let one = |v: u64| vec![(String::new(), v)];
        counter(
            "chainstorm_endpoint_accepted_total",
            "TCP connections accepted.",
            one(self.accepted),
        );
        counter(
            "chainstorm_endpoint_accept_errors_total",
            "Failed accept calls (backed off).",
            one(self.accept_errors),
        );
        counter(
            "chainstorm_endpoint_handshake_failures_total",
            "TLS handshakes that failed.",
            one(self.handshake_failed),
        );
        counter(
            "chainstorm_endpoint_unknown_names_total",
            "ClientHellos for a name the endpoint does not serve.",
            one(self.unknown_name),
        );
        counter(
            "chainstorm_endpoint_handshakes_total",
            "Completed TLS handshakes by chain and version.",
            self.handshakes
                .iter()
                .map(|(k, v)| {
                    let (chain, version) = k.split_once('/').unwrap_or((k.as_str(), ""));
                    (
                        format!(
                            "{{chain=\"{}\",version=\"{}\"}}",
                            escape(chain),
                            escape(version)
                        ),
                        *v,
                    )
                })
                .collect(),
        );
        counter(
            "chainstorm_endpoint_alerts_sent_total",
            "TLS alerts the endpoint sent.",
            self.alerts_sent
                .iter()
                .map(|(k, v)| (format!("{{alert=\"{}\"}}", escape(k)), *v))
                .collect(),
        );
        counter(
            "chainstorm_endpoint_connacks_total",
            "CONNACKs sent by code.",
            self.connacks
                .iter()
                .map(|(k, v)| (format!("{{code=\"{k:#04x}\"}}"), *v))
                .collect(),
        );
        let _ = writeln!(
            o,
            "# HELP chainstorm_endpoint_sessions_open MQTT sessions open now.\n# TYPE chainstorm_endpoint_sessions_open gauge\nchainstorm_endpoint_sessions_open {}",
            self.sessions_open
        );
        o
    }

    /// Completed handshakes in total.
    pub fn handshakes_total(&self) -> u64 {
        self.handshakes.values().sum()
    }
}

fn alert_name(code: u8) -> String {
    let d = rustls::AlertDescription::from(code);
    format!("{d:?}")
}

impl Counters {
    /// Counts a completed handshake.
    pub fn handshake(&self, chain: ChainKind, tls13: bool) {
        let i = ChainKind::ALL.iter().position(|k| *k == chain).unwrap_or(0);
        self.handshakes[i][usize::from(tls13)].fetch_add(1, Relaxed);
    }

    /// Counts an alert received from a client.
    pub fn alert_received(&self, desc: rustls::AlertDescription) {
        self.alerts_received[usize::from(u8::from(desc))].fetch_add(1, Relaxed);
    }

    /// Counts an alert this endpoint wrote.
    pub fn alert_sent(&self, desc: rustls::AlertDescription) {
        self.alerts_sent[usize::from(u8::from(desc))].fetch_add(1, Relaxed);
    }

    /// Counts a CONNACK.
    pub fn connack(&self, code: u8) {
        self.connacks[usize::from(code)].fetch_add(1, Relaxed);
    }

    /// Copies the counters.
    pub fn snapshot(&self) -> CountersSnapshot {
        let nz = |a: &[AtomicU64; 256], key: &dyn Fn(u8) -> String| {
            a.iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let v = v.load(Relaxed);
                    (v > 0).then(|| (key(i as u8), v))
                })
                .collect::<BTreeMap<_, _>>()
        };
        let mut handshakes = BTreeMap::new();
        for (i, k) in ChainKind::ALL.iter().enumerate() {
            for (j, v) in ["tls1.2", "tls1.3"].iter().enumerate() {
                let n = self.handshakes[i][j].load(Relaxed);
                if n > 0 {
                    handshakes.insert(format!("{}/{v}", k.name()), n);
                }
            }
        }
        CountersSnapshot {
            accepted: self.accepted.load(Relaxed),
            refused: self.refused.load(Relaxed),
            reset: self.reset.load(Relaxed),
            stalled: self.stalled.load(Relaxed),
            unknown_name: self.unknown_name.load(Relaxed),
            handshake_failed: self.handshake_failed.load(Relaxed),
            alpn_rejected: self.alpn_rejected.load(Relaxed),
            handshakes,
            resumed: self.resumed.load(Relaxed),
            alerts_received: nz(&self.alerts_received, &alert_name),
            alerts_sent: nz(&self.alerts_sent, &alert_name),
            connacks: self
                .connacks
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let v = v.load(Relaxed);
                    (v > 0).then_some((i as u8, v))
                })
                .collect(),
            sessions_open: self.sessions_open.load(Relaxed),
            publishes_in: self.publishes_in.load(Relaxed),
            publishes_out: self.publishes_out.load(Relaxed),
            deliveries_dropped: self.deliveries_dropped.load(Relaxed),
            messages_queued: self.messages_queued.load(Relaxed),
            mfl_offered: self.mfl_offered.load(Relaxed),
            keepalive_timeouts: self.keepalive_timeouts.load(Relaxed),
            taken_over: self.taken_over.load(Relaxed),
            protocol_errors: self.protocol_errors.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
        }
    }
}
