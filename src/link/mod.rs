//! Devices on real links, emulated in user space (this kernel has no
//! `netem`): each fleet group's [`Link`] (RTT, jitter, bandwidth each way,
//! loss per segment each way, MTU), the named profiles with the published
//! figures they come from ([`profiles`]), and the per-connection [`Shaper`]
//! the client's transport and dialer apply to every connect and flight.
//!
//! The model, and what it leaves out, is stated on [`Shaper`] and in README.

mod profiles;
mod shaper;

pub use profiles::{profile, Basis, Profile, PROFILES};
pub use shaper::{Shaper, TCP_HEADER_BYTES};

use std::time::Duration;

/// A link's parameters, after a profile and the scenario's overrides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Round-trip propagation delay, ms (half each way).
    pub rtt_ms: f64,
    /// Jitter, ms: each one-way delay is RTT/2 plus a uniform draw in
    /// ±jitter/2.
    pub jitter_ms: f64,
    /// Downlink (server to device) bandwidth, kbit/s; `None`: unlimited.
    pub down_kbps: Option<f64>,
    /// Uplink (device to server) bandwidth, kbit/s; `None`: unlimited.
    pub up_kbps: Option<f64>,
    /// Probability that a segment is lost, each direction, 0 to 0.5.
    pub loss: f64,
    /// Largest IP packet, bytes (segments carry MTU - 52 bytes of payload).
    pub mtu: u32,
}

impl Link {
    /// No emulation: loopback as it is.
    pub const LOOPBACK: Link = Link {
        rtt_ms: 0.0,
        jitter_ms: 0.0,
        down_kbps: None,
        up_kbps: None,
        loss: 0.0,
        mtu: 1500,
    };

    /// Whether anything is emulated.
    pub fn is_loopback(&self) -> bool {
        self.rtt_ms == 0.0
            && self.jitter_ms == 0.0
            && self.down_kbps.is_none()
            && self.up_kbps.is_none()
            && self.loss == 0.0
    }

    /// TCP payload bytes per segment.
    pub fn mss(&self) -> u32 {
        self.mtu.saturating_sub(TCP_HEADER_BYTES).max(1)
    }

    /// The time `bytes` of payload take to serialize at `kbps`, with the
    /// headers of the segments they travel in.
    pub fn serialization(&self, bytes: usize, kbps: Option<f64>) -> Duration {
        let Some(kbps) = kbps else {
            return Duration::ZERO;
        };
        let segments = bytes.div_ceil(self.mss() as usize).max(1);
        let wire = bytes + segments * TCP_HEADER_BYTES as usize;
        Duration::from_secs_f64(wire as f64 * 8.0 / (kbps * 1000.0))
    }

    /// One line: `rtt 200 ms ± 20, down 250 kbit/s, up 20 kbit/s, loss 1 %, mtu 1500`.
    pub fn describe(&self) -> String {
        if self.is_loopback() {
            return "loopback (no emulation)".into();
        }
        let rate = |k: Option<f64>| k.map_or("unlimited".to_string(), |k| format!("{k} kbit/s"));
        format!(
            "rtt {} ms ± {}, down {}, up {}, loss {} %, mtu {}",
            self.rtt_ms,
            self.jitter_ms / 2.0,
            rate(self.down_kbps),
            rate(self.up_kbps),
            self.loss * 100.0,
            self.mtu
        )
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::LOOPBACK
    }
}

/// The ranges every link value is checked against (scenario keys name them).
pub mod limits {
    /// RTT, ms: up to 60 s.
    pub const MAX_RTT_MS: f64 = 60_000.0;
    /// Jitter, ms.
    pub const MAX_JITTER_MS: f64 = 10_000.0;
    /// Bandwidth, kbit/s: 0.1 kbit/s to 10 Gbit/s.
    pub const MIN_KBPS: f64 = 0.1;
    /// Bandwidth, kbit/s.
    pub const MAX_KBPS: f64 = 10_000_000.0;
    /// Loss per segment: at most one in two.
    pub const MAX_LOSS: f64 = 0.5;
    /// MTU, bytes: IPv4's minimum to a jumbo frame.
    pub const MIN_MTU: u32 = 576;
    /// MTU, bytes.
    pub const MAX_MTU: u32 = 9_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_counts_the_segment_headers() {
        let l = Link {
            down_kbps: Some(20.0),
            ..Link::LOOPBACK
        };
        // 4,792 B in 4 segments of at most 1,448 B: 5,000 B on the wire.
        let t = l.serialization(4_792, l.down_kbps);
        assert!((t.as_secs_f64() - 5_000.0 * 8.0 / 20_000.0).abs() < 1e-9);
        assert_eq!(l.serialization(4_792, None), Duration::ZERO);
        assert!(Link::LOOPBACK.is_loopback() && !l.is_loopback());
    }
}
