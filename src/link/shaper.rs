//! One connection's link: when its bytes arrive, each way.
//!
//! The model (README, "Devices on real links", says the same):
//! - Each direction is a serial line at its bandwidth: bytes wait until the
//!   bytes before them are on the wire, then take `wire bytes × 8 / rate`
//!   to serialize, where wire bytes are the payload plus 52 bytes of IPv4
//!   and TCP header (with the timestamp option) per MTU-sized segment.
//! - Then they travel half the RTT, plus a uniform draw in ±jitter/2; data
//!   is delivered in order, so a short delay never overtakes a longer one.
//! - Each segment is lost with probability `loss`, independently, each
//!   time it is sent. A lost data segment costs one retransmission timeout
//!   (RTO = max(200 ms, RTT + 2 × jitter): Linux's minimum, RFC 6298's
//!   SRTT + 4 × RTTVAR with RTTVAR taken as jitter/2), doubling per repeat
//!   (RFC 6298 5.5); a batch of segments is delivered when its last
//!   segment is. A lost SYN or SYN-ACK costs the 1 s initial RTO (RFC 6298
//!   2.1), doubling.
//! - Not modelled: congestion windows and slow start (a TLS flight of
//!   under ten segments fits Linux's initial window of ten), ACK traffic,
//!   fast retransmit, and other devices sharing the cell (each device has
//!   its own link).

use std::time::Duration;

use tokio::time::Instant;

use super::Link;

/// IPv4 (20 B) and TCP (20 B) headers of one segment, and the TCP
/// timestamp option (12 B) Linux sends by default (`tcp_timestamps = 1`):
/// 1,448 B of payload in a 1,500 B MTU, as Linux's own MSS.
pub const TCP_HEADER_BYTES: u32 = 52;

/// Linux's minimum retransmission timeout (`TCP_RTO_MIN`).
const RTO_MIN: Duration = Duration::from_millis(200);

/// The initial retransmission timeout of a SYN (RFC 6298 2.1).
const RTO_SYN: Duration = Duration::from_secs(1);

/// At most this many losses of one segment are charged: with loss <= 0.5
/// the chance of more is under 1 %, and the bound keeps a draw finite.
const MAX_LOSSES: u32 = 6;

/// One direction of a connection's link: when the line is free again and
/// when the last bytes were delivered (later bytes never overtake them).
#[derive(Clone, Copy, Debug, Default)]
struct Line {
    free: Option<Instant>,
    last: Option<Instant>,
}

/// One connection's link state: each direction's line, and the
/// retransmissions charged so far.
#[derive(Clone, Debug)]
pub struct Shaper {
    link: Link,
    rng: u64,
    up: Line,
    down: Line,
    retransmits: u32,
}

impl Shaper {
    /// A link for one connection; `seed` makes its jitter and losses
    /// repeatable (the plan's seed and the device's index).
    pub fn new(link: Link, seed: u64) -> Shaper {
        Shaper {
            link,
            rng: seed,
            up: Line::default(),
            down: Line::default(),
            retransmits: 0,
        }
    }

    /// The link.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Retransmissions charged so far (SYNs and data segments).
    pub fn retransmits(&self) -> u32 {
        self.retransmits
    }

    /// What the TCP connect takes beyond loopback's: the SYN up and the
    /// SYN-ACK down (one RTT with jitter, and their serialization), and the
    /// initial RTO, doubling, for each time either is lost.
    pub fn connect_delay(&mut self) -> Duration {
        let l = self.link;
        let mut d = self.one_way() + self.one_way();
        d += l.serialization(0, l.up_kbps) + l.serialization(0, l.down_kbps);
        // A lost SYN-ACK also makes the client resend its SYN: either loss
        // restarts the exchange after the timeout.
        let mut rto = RTO_SYN;
        for _ in 0..MAX_LOSSES {
            if !(self.lost() || self.lost()) {
                break;
            }
            self.retransmits += 1;
            d += rto;
            rto *= 2;
        }
        d
    }

    /// When `n` bytes the device writes at `now` reach the server.
    pub fn uplink(&mut self, now: Instant, n: usize) -> Instant {
        let (line, kbps) = (self.up, self.link.up_kbps);
        let (line, at) = self.transfer(line, now, n, kbps);
        self.up = line;
        at
    }

    /// When `n` bytes the server sent (read here at `now`: on loopback the
    /// server's write arrives at once) reach the device.
    pub fn downlink(&mut self, now: Instant, n: usize) -> Instant {
        let (line, kbps) = (self.down, self.link.down_kbps);
        let (line, at) = self.transfer(line, now, n, kbps);
        self.down = line;
        at
    }

    /// Serialize after what is already on the line, travel, lose segments;
    /// returns the line after it and the delivery time.
    fn transfer(
        &mut self,
        line: Line,
        now: Instant,
        n: usize,
        kbps: Option<f64>,
    ) -> (Line, Instant) {
        let start = line.free.map_or(now, |f| f.max(now));
        let on_wire = start + self.link.serialization(n, kbps);
        let segments = n.div_ceil(self.link.mss() as usize).max(1);
        let at = on_wire + self.one_way() + self.loss_penalty(segments);
        let at = line.last.map_or(at, |l| l.max(at));
        let line = Line {
            free: Some(on_wire),
            last: Some(at),
        };
        (line, at)
    }

    /// The longest retransmission delay among `segments` segments.
    fn loss_penalty(&mut self, segments: usize) -> Duration {
        if self.link.loss == 0.0 {
            return Duration::ZERO;
        }
        let rto = RTO_MIN.max(Duration::from_secs_f64(
            (self.link.rtt_ms + 2.0 * self.link.jitter_ms) / 1e3,
        ));
        let mut worst = Duration::ZERO;
        for _ in 0..segments {
            let mut penalty = Duration::ZERO;
            let mut this = rto;
            for _ in 0..MAX_LOSSES {
                if !self.lost() {
                    break;
                }
                self.retransmits += 1;
                penalty += this;
                this *= 2;
            }
            worst = worst.max(penalty);
        }
        worst
    }

    /// Half the RTT plus a uniform draw in ±jitter/2, at least zero.
    fn one_way(&mut self) -> Duration {
        let l = self.link;
        let j = (self.unit() - 0.5) * l.jitter_ms;
        Duration::from_secs_f64((l.rtt_ms / 2.0 + j).max(0.0) / 1e3)
    }

    fn lost(&mut self) -> bool {
        self.link.loss > 0.0 && self.unit() < self.link.loss
    }

    /// A uniform draw in [0, 1): the hash of a counter (repeatable per
    /// seed, no allocation, 8 bytes of state).
    fn unit(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(1);
        crate::mix::unit(self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(rtt: f64, down: Option<f64>, loss: f64) -> Link {
        Link {
            rtt_ms: rtt,
            jitter_ms: 0.0,
            down_kbps: down,
            up_kbps: None,
            loss,
            mtu: 1500,
        }
    }

    #[test]
    fn a_connect_takes_one_rtt() {
        let mut s = Shaper::new(link(200.0, None, 0.0), 1);
        assert_eq!(s.connect_delay(), Duration::from_millis(200));
    }

    #[test]
    fn bytes_queue_behind_each_other_and_arrive_in_order() {
        let mut s = Shaper::new(link(100.0, Some(20.0), 0.0), 1);
        let t0 = Instant::now();
        // 1,448 B + 52 B header at 20 kbit/s: 600 ms, then 50 ms of travel.
        let a = s.downlink(t0, 1_448);
        assert_eq!(a - t0, Duration::from_millis(650));
        // The next segment waits for the line: 1,200 ms on the wire.
        let b = s.downlink(t0, 1_448);
        assert_eq!(b - t0, Duration::from_millis(1_250));
        // Unlimited uplink: only the travel.
        assert_eq!(s.uplink(t0, 10_000) - t0, Duration::from_millis(50));
    }

    #[test]
    fn losses_cost_doubling_timeouts_at_the_modelled_rate() {
        // Loss 0.1 per segment, one segment per transfer: P(at least one
        // retransmission) = 0.1; 20,000 draws put 4 sigma at 0.0085.
        let mut s = Shaper::new(link(100.0, None, 0.1), 7);
        let t0 = Instant::now();
        let mut delayed = 0;
        for _ in 0..20_000 {
            let before = s.retransmits();
            let d = s.uplink(t0, 100) - t0;
            if s.retransmits() > before {
                delayed += 1;
                // 200 ms (the minimum RTO), 600 ms, 1.4 s, …
                let extra = d.as_millis() as u64 - 50;
                assert!(
                    [200, 600, 1_400, 3_000, 6_200, 12_600].contains(&extra),
                    "{extra}"
                );
            }
            s.up.last = None;
        }
        let share = delayed as f64 / 20_000.0;
        assert!((share - 0.1).abs() < 0.0085, "{share}");
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_repeats_per_seed() {
        let l = Link {
            jitter_ms: 40.0,
            ..link(100.0, None, 0.0)
        };
        let (mut a, mut b) = (Shaper::new(l, 3), Shaper::new(l, 3));
        for _ in 0..1_000 {
            let (x, y) = (a.one_way(), b.one_way());
            assert_eq!(x, y);
            assert!((30.0..=70.0).contains(&(x.as_secs_f64() * 1e3)), "{x:?}");
        }
    }
}
