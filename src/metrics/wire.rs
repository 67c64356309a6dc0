//! What a successful connect put on the wire, per fleet group × endpoint
//! kind × the chain the server sent (its number of certificates): bytes per
//! phase and direction, TLS records and flights, retransmissions on an
//! emulated link, and connect_total for the same key (so a table row can
//! say seconds and bytes of the same connects).

use serde::{Deserialize, Serialize};

use super::phase::EndpointKind;
use super::recorder::histogram;
use hdrhistogram::Histogram;

/// The key of wire statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireKey {
    /// Fleet group index.
    pub group: u16,
    /// Endpoint kind (after the chain told RSA from ECC).
    pub endpoint: EndpointKind,
    /// Certificates the server sent (leaf, intermediates, cross-certificates).
    pub certs: u8,
}

/// One figure of a connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Intended start to connected, ns.
    ConnectTotalNs,
    /// TCP/IP header bytes, both ways: the connect's three segments and
    /// 52 bytes per data segment.
    TcpBytes,
    /// TLS handshake bytes, device to server.
    TlsBytesUp,
    /// TLS handshake bytes, server to device.
    TlsBytesDown,
    /// MQTT CONNECT/CONNACK bytes (as TLS records), device to server.
    MqttBytesUp,
    /// MQTT bytes, server to device.
    MqttBytesDown,
    /// TLS records the server sent during the handshake.
    TlsRecordsDown,
    /// Flights of the handshake, both ways.
    TlsFlights,
    /// Retransmissions the emulated link charged.
    Retransmits,
}

impl Figure {
    /// Every figure, in table order.
    pub const ALL: [Figure; 9] = [
        Figure::ConnectTotalNs,
        Figure::TcpBytes,
        Figure::TlsBytesUp,
        Figure::TlsBytesDown,
        Figure::MqttBytesUp,
        Figure::MqttBytesDown,
        Figure::TlsRecordsDown,
        Figure::TlsFlights,
        Figure::Retransmits,
    ];

    /// snake_case label, as results spell it.
    pub fn label(self) -> &'static str {
        match self {
            Figure::ConnectTotalNs => "connect_total_ns",
            Figure::TcpBytes => "tcp_bytes",
            Figure::TlsBytesUp => "tls_bytes_up",
            Figure::TlsBytesDown => "tls_bytes_down",
            Figure::MqttBytesUp => "mqtt_bytes_up",
            Figure::MqttBytesDown => "mqtt_bytes_down",
            Figure::TlsRecordsDown => "tls_records_down",
            Figure::TlsFlights => "tls_flights",
            Figure::Retransmits => "retransmits",
        }
    }
}

/// One connect's figures, in [`Figure::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireSample(pub [u64; 9]);

impl WireSample {
    /// Sets one figure.
    pub fn set(&mut self, f: Figure, v: u64) {
        self.0[f as usize] = v;
    }
}

/// The histograms of one key, in [`Figure::ALL`] order.
#[derive(Clone, Debug)]
pub struct WireHists(pub Vec<Histogram<u64>>);

impl Default for WireHists {
    fn default() -> Self {
        WireHists((0..Figure::ALL.len()).map(|_| histogram()).collect())
    }
}

impl WireHists {
    /// Takes in one connect.
    pub fn record(&mut self, s: &WireSample) {
        for (h, v) in self.0.iter_mut().zip(s.0) {
            let _ = h.record(v);
        }
    }

    /// Adds another key's histograms.
    pub fn add(&mut self, o: &WireHists) {
        for (h, x) in self.0.iter_mut().zip(&o.0) {
            let _ = h.add(x);
        }
    }

    /// One figure's histogram.
    pub fn of(&self, f: Figure) -> &Histogram<u64> {
        &self.0[f as usize]
    }
}
