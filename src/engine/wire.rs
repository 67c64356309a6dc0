//! What a device's connect put on the wire, and its emulated link's connect:
//! the engine-side half of [`crate::link`] (the transport does the flights).

use std::time::Duration;

use crate::link::{Link, Shaper, TCP_HEADER_BYTES};
use crate::metrics::{Figure, WireSample};
use crate::transport::WireCount;

/// The link state of one attempt, seeded from the plan's seed, the device
/// and the attempt, so a run repeats its jitter and losses.
pub(super) fn shaper(
    link: &Link,
    seed: u64,
    group: u16,
    index: u32,
    attempt: u32,
) -> Option<Shaper> {
    if link.is_loopback() {
        return None;
    }
    let s = seed ^ (u64::from(group) << 48) ^ (u64::from(index) << 16) ^ u64::from(attempt);
    Some(Shaper::new(*link, s))
}

/// One successful connect's figures. `handshake` is the stream's count when
/// the handshake ended (with the client's last flight, still queued then),
/// `total` at the end of the attempt: what lies between is MQTT's. TCP
/// bytes are the connect's three segments plus one header per MSS of data
/// each way (an estimate: a flight written in several calls may take more
/// segments).
pub(super) fn sample(
    link: &Link,
    connect_total: Duration,
    handshake: &WireCount,
    total: &WireCount,
    retransmits: u32,
) -> WireSample {
    let mss = u64::from(link.mss());
    let (tls_up, tls_down) = (handshake.bytes_out, handshake.bytes_in);
    let mqtt_up = total.bytes_out.saturating_sub(tls_up);
    let mqtt_down = total.bytes_in.saturating_sub(tls_down);
    let segments: u64 = [tls_up, tls_down, mqtt_up, mqtt_down]
        .into_iter()
        .map(|b| b.div_ceil(mss))
        .sum();
    let mut s = WireSample::default();
    s.set(Figure::ConnectTotalNs, connect_total.as_nanos() as u64);
    s.set(
        Figure::TcpBytes,
        u64::from(TCP_HEADER_BYTES) * (3 + segments),
    );
    s.set(Figure::TlsBytesUp, tls_up);
    s.set(Figure::TlsBytesDown, tls_down);
    s.set(Figure::MqttBytesUp, mqtt_up);
    s.set(Figure::MqttBytesDown, mqtt_down);
    s.set(
        Figure::TlsRecordsDown,
        u64::from(handshake.records_in.records),
    );
    s.set(Figure::TlsFlights, u64::from(handshake.flights));
    s.set(Figure::Retransmits, u64::from(retransmits));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_bytes_are_what_came_after_the_handshake() {
        let mut hs = WireCount::default();
        hs.sent(&[22, 3, 1, 0, 1, 0]);
        hs.received(&[22, 3, 3, 0, 2, 0, 0]);
        let mut total = hs;
        total.sent(&[23, 3, 3, 0, 3, 1, 2, 3]);
        total.received(&[23, 3, 3, 0, 1, 9]);
        let s = sample(&Link::LOOPBACK, Duration::from_millis(5), &hs, &total, 0);
        assert_eq!(s.0[Figure::TlsBytesUp as usize], 6);
        assert_eq!(s.0[Figure::TlsBytesDown as usize], 7);
        assert_eq!(s.0[Figure::MqttBytesUp as usize], 8);
        assert_eq!(s.0[Figure::MqttBytesDown as usize], 6);
        assert_eq!(s.0[Figure::TlsRecordsDown as usize], 1);
        assert_eq!(s.0[Figure::TcpBytes as usize], 52 * (3 + 4));
        assert!(shaper(&Link::LOOPBACK, 1, 0, 0, 0).is_none());
    }
}
