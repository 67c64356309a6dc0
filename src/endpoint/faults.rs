//! Fault decisions, drawn per connection from the seed so that the same
//! seed and the same connection order give the same faults, and the rate
//! limiters that imitate AWS's CONNECT throttling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::{Delay, Faults};

/// What happens to one connection at the TCP/TLS level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnFault {
    /// Served normally.
    None,
    /// Closed right after accept.
    Refuse,
    /// Reset after the ClientHello.
    Reset,
    /// Never answered.
    Stall,
}

/// Everything decided for one connection.
#[derive(Clone, Debug)]
pub struct ConnPlan {
    /// TCP/TLS-level fault.
    pub fault: ConnFault,
    /// Delay before answering the ClientHello.
    pub handshake_delay: Option<Duration>,
    /// Delay before the CONNACK.
    pub connack_delay: Option<Duration>,
    /// Refuse the CONNECT with this (3.1.1, 5.0) code pair.
    pub connack_refusal: Option<(u8, u8)>,
}

fn draw(rng: &mut ChaCha8Rng, d: Delay) -> Duration {
    let ms = match d {
        Delay::Fixed { ms } => ms,
        Delay::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * rng.gen::<f64>(),
        Delay::Exponential { mean_ms } => -mean_ms * (1.0 - rng.gen::<f64>()).ln(),
    };
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

impl Faults {
    /// The plan for the `n`-th connection accepted by a listener.
    pub fn plan(&self, listener: usize, n: u64) -> ConnPlan {
        // Mix listener and connection index into the seed (splitmix-style
        // constants) so neighbouring connections get unrelated draws.
        let mixed = self.seed
            ^ (n.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (listener as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let mut rng = ChaCha8Rng::seed_from_u64(mixed);
        let u: f64 = rng.gen();
        let fault = if u < self.refuse_rate {
            ConnFault::Refuse
        } else if u < self.refuse_rate + self.reset_rate {
            ConnFault::Reset
        } else if u < self.refuse_rate + self.reset_rate + self.stall_rate {
            ConnFault::Stall
        } else {
            ConnFault::None
        };
        let handshake_delay = self.handshake_delay.map(|d| draw(&mut rng, d));
        let connack_delay = self.connack_delay.map(|d| draw(&mut rng, d));
        let refusal_draw: f64 = rng.gen();
        let connack_refusal = self
            .connack_refusal
            .filter(|c| refusal_draw < c.rate)
            .map(|c| (c.code_v311, c.code_v5));
        ConnPlan {
            fault,
            handshake_delay,
            connack_delay,
            connack_refusal,
        }
    }
}

/// A token bucket: `rate` tokens per second, bursts up to `rate` tokens.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64) -> TokenBucket {
        TokenBucket {
            rate,
            state: Mutex::new((rate, Instant::now())),
        }
    }

    /// Takes a token if one is available.
    pub fn try_take(&self) -> bool {
        let mut s = self.state.lock().expect("token bucket lock");
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() * self.rate;
        s.0 = (s.0 + refill).min(self.rate.max(1.0));
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// At most `rate` CONNECTs per second per client id (AWS: 1).
#[derive(Debug)]
pub struct PerClientLimit {
    min_gap: Duration,
    last: Mutex<HashMap<String, Instant>>,
}

impl PerClientLimit {
    /// A limiter at `rate` per second.
    pub fn new(rate: f64) -> PerClientLimit {
        PerClientLimit {
            min_gap: Duration::from_secs_f64(1.0 / rate),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Records a CONNECT; false when it came too soon after the previous one.
    pub fn admit(&self, client_id: &str) -> bool {
        let mut m = self.last.lock().expect("client limit lock");
        let now = Instant::now();
        if m.len() > 100_000 {
            // Bound the map: forget ids not seen within the window.
            let gap = self.min_gap;
            m.retain(|_, t| now.duration_since(*t) < gap);
        }
        match m.get(client_id) {
            Some(t) if now.duration_since(*t) < self.min_gap => false,
            _ => {
                m.insert(client_id.to_string(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::config::ConnackRefusal;

    #[test]
    fn same_seed_same_plan_and_rates_hold() {
        let f = Faults {
            seed: 7,
            refuse_rate: 0.1,
            reset_rate: 0.05,
            stall_rate: 0.05,
            connack_refusal: Some(ConnackRefusal {
                rate: 0.2,
                code_v311: 3,
                code_v5: 0x9F,
            }),
            ..Faults::default()
        };
        let a: Vec<_> = (0..2000).map(|n| f.plan(0, n).fault).collect();
        let b: Vec<_> = (0..2000).map(|n| f.plan(0, n).fault).collect();
        assert_eq!(a, b);
        let count = |k| a.iter().filter(|x| **x == k).count() as f64 / 2000.0;
        // Binomial standard error at n=2000 is under 0.7 %; allow 4 sigma.
        assert!((count(ConnFault::Refuse) - 0.1).abs() < 0.027);
        assert!((count(ConnFault::Reset) - 0.05).abs() < 0.02);
        assert!((count(ConnFault::Stall) - 0.05).abs() < 0.02);
        let refused = (0..2000)
            .filter(|n| f.plan(0, *n).connack_refusal.is_some())
            .count();
        assert!((refused as f64 / 2000.0 - 0.2).abs() < 0.036);
    }

    #[test]
    fn fixed_delay_is_exact() {
        let f = Faults {
            handshake_delay: Some(Delay::Fixed { ms: 25.0 }),
            ..Faults::default()
        };
        assert_eq!(
            f.plan(0, 3).handshake_delay,
            Some(Duration::from_millis(25))
        );
    }

    #[test]
    fn per_client_limit() {
        let l = PerClientLimit::new(1.0);
        assert!(l.admit("a"));
        assert!(!l.admit("a"));
        assert!(l.admit("b"));
    }

    #[test]
    fn bucket_allows_burst_then_limits() {
        let b = TokenBucket::new(5.0);
        let taken = (0..20).filter(|_| b.try_take()).count();
        assert!((5..=6).contains(&taken), "{taken}");
    }
}
