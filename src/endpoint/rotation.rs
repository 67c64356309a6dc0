//! Intermediate rotation: AWS issues several intermediates per key type
//! (Amazon RSA 2048 M01-M04, Amazon ECDSA 256 M01-M04) and changes the one
//! that signs an endpoint's leaf without notice. The endpoint picks the
//! issuing intermediate per connection, by seeded weights or by a switch
//! at a scheduled time, so devices that pin one break mid-run as they
//! would after a real rotation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

use super::EndpointError;
use crate::pki::ChainKind;

/// How the ATS chains rotate, and which cross-certificates ride along.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Relative weights of M01, M02, M03, M04 per connection.
    #[serde(default = "m01_only")]
    pub weights: [f64; 4],
    /// From this many seconds after start, serve only `switch_to`.
    #[serde(default)]
    pub switch_after_s: Option<f64>,
    /// The intermediate (1-4) served after the switch.
    #[serde(default = "two")]
    pub switch_to: u8,
    /// Serve the ATS RSA chain with Amazon Root CA 1 cross-signed by
    /// Starfield G2, as AWS does (only M01's chain can go without it).
    #[serde(default = "yes")]
    pub starfield_cross: bool,
    /// With `starfield_cross`: the share of M01 connections that get the
    /// cross-certificate (1: all, as AWS; less, to compare chains with and
    /// without it in one run).
    #[serde(default = "all")]
    pub starfield_cross_share: f64,
    /// Also append Starfield G2 cross-signed by the Starfield Class 2 root
    /// (M01's RSA chain only).
    #[serde(default)]
    pub class2_cross: bool,
    /// Seed of the per-connection choice.
    #[serde(default)]
    pub seed: u64,
}

fn m01_only() -> [f64; 4] {
    [1.0, 0.0, 0.0, 0.0]
}
fn two() -> u8 {
    2
}
fn yes() -> bool {
    true
}
fn all() -> f64 {
    1.0
}

impl Default for Rotation {
    /// M01 only, with the Starfield cross-certificate: what the endpoint
    /// served before rotation existed.
    fn default() -> Self {
        Rotation {
            weights: m01_only(),
            switch_after_s: None,
            switch_to: 2,
            starfield_cross: true,
            starfield_cross_share: 1.0,
            class2_cross: false,
            seed: 0,
        }
    }
}

impl Rotation {
    /// Refuses weights that cannot choose (negative, not finite, all zero)
    /// and a switch target outside 1-4.
    pub fn validate(&self) -> Result<(), EndpointError> {
        if self.weights.iter().any(|w| !w.is_finite() || *w < 0.0)
            || self.weights.iter().sum::<f64>() <= 0.0
        {
            return Err(EndpointError::OutOfRange {
                key: "rotation.weights",
                value: format!("{:?}", self.weights),
                allowed: "four weights >= 0 (M01..M04), not all 0",
            });
        }
        let share = self.starfield_cross_share;
        if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
            return Err(EndpointError::OutOfRange {
                key: "rotation.starfield_cross_share",
                value: share.to_string(),
                allowed: "0 to 1",
            });
        }
        if !(1..=4).contains(&self.switch_to) {
            return Err(EndpointError::OutOfRange {
                key: "rotation.switch_to",
                value: self.switch_to.to_string(),
                allowed: "1 (M01) to 4 (M04)",
            });
        }
        if let Some(s) = self.switch_after_s {
            if !(s.is_finite() && (0.0..=604_800.0).contains(&s)) {
                return Err(EndpointError::OutOfRange {
                    key: "rotation.switch_after_s",
                    value: s.to_string(),
                    allowed: "0 <= s <= 604800",
                });
            }
        }
        Ok(())
    }

    /// Which intermediate (0 = M01 .. 3 = M04) serves connection `n`,
    /// `elapsed` after the endpoint started.
    pub fn pick(&self, n: u64, elapsed: Duration) -> usize {
        if let Some(after) = self.switch_after_s {
            if elapsed.as_secs_f64() >= after {
                return usize::from(self.switch_to - 1);
            }
        }
        let total: f64 = self.weights.iter().sum();
        let u = crate::mix::unit(self.seed ^ n) * total;
        let mut acc = 0.0;
        for (i, w) in self.weights.iter().enumerate() {
            acc += w;
            if u < acc {
                return i;
            }
        }
        3
    }

    /// The chain for connection `n`: [`Rotation::chain`], except that an
    /// M01 RSA chain goes without the cross-certificate for the connections
    /// outside `starfield_cross_share`.
    pub fn chain_for(&self, base: ChainKind, index: usize, n: u64) -> ChainKind {
        let k = self.chain(base, index);
        let share = self.starfield_cross_share;
        if k == ChainKind::AtsRsaCrossSigned && share < 1.0 {
            let u = crate::mix::unit(self.seed ^ n ^ 0xc105_5000);
            if u >= share {
                return ChainKind::AtsRsa;
            }
        }
        k
    }

    /// The chain to serve when the routing chose `base` (an ATS RSA or ECC
    /// chain) and the rotation chose intermediate `index`.
    pub fn chain(&self, base: ChainKind, index: usize) -> ChainKind {
        use ChainKind as K;
        let rsa = [
            K::AtsRsaCrossSigned,
            K::AtsRsaM02,
            K::AtsRsaM03,
            K::AtsRsaM04,
        ];
        let ecc = [K::AtsEcc, K::AtsEccM02, K::AtsEccM03, K::AtsEccM04];
        match base {
            K::AtsRsaCrossSigned | K::AtsRsa => match index {
                0 if self.class2_cross => K::AtsRsaClass2,
                0 if !self.starfield_cross => K::AtsRsa,
                i => rsa[i.min(3)],
            },
            K::AtsEcc => ecc[index.min(3)],
            other => other,
        }
    }

    /// Every chain this rotation can serve besides the fixed ones.
    pub fn chains(&self) -> Vec<ChainKind> {
        let mut v = Vec::new();
        if self.starfield_cross_share < 1.0 {
            v.push(ChainKind::AtsRsa);
        }
        for i in 0..4 {
            for base in [ChainKind::AtsRsaCrossSigned, ChainKind::AtsEcc] {
                let k = self.chain(base, i);
                if !v.contains(&k) {
                    v.push(k);
                }
            }
        }
        v
    }
}

/// The connection counter the per-connection choice hashes.
#[derive(Debug, Default)]
pub struct RotationCounter(AtomicU64);

impl RotationCounter {
    /// The next connection number.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_spread_connections_and_a_switch_takes_over() {
        let r = Rotation {
            weights: [1.0, 1.0, 1.0, 1.0],
            ..Rotation::default()
        };
        let mut seen = [0u32; 4];
        for n in 0..4000 {
            seen[r.pick(n, Duration::ZERO)] += 1;
        }
        // Each of four equal weights gets 1000 ± 15 %.
        assert!(seen.iter().all(|&c| (850..=1150).contains(&c)), "{seen:?}");
        let s = Rotation {
            switch_after_s: Some(5.0),
            switch_to: 3,
            ..Rotation::default()
        };
        assert_eq!(s.pick(7, Duration::from_secs(4)), 0);
        assert_eq!(s.pick(7, Duration::from_secs(5)), 2);
        assert_eq!(
            s.chain(ChainKind::AtsRsaCrossSigned, 2),
            ChainKind::AtsRsaM03
        );
        assert_eq!(s.chain(ChainKind::AtsEcc, 1), ChainKind::AtsEccM02);
    }

    #[test]
    fn cross_certificate_switches() {
        let no_cross = Rotation {
            starfield_cross: false,
            ..Rotation::default()
        };
        assert_eq!(
            no_cross.chain(ChainKind::AtsRsaCrossSigned, 0),
            ChainKind::AtsRsa
        );
        let class2 = Rotation {
            class2_cross: true,
            ..Rotation::default()
        };
        assert_eq!(
            class2.chain(ChainKind::AtsRsaCrossSigned, 0),
            ChainKind::AtsRsaClass2
        );
        assert!(Rotation {
            weights: [0.0; 4],
            ..Rotation::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn a_share_of_m01_connections_goes_without_the_cross_certificate() {
        let r = Rotation {
            starfield_cross_share: 0.5,
            ..Rotation::default()
        };
        let with = (0..10_000u64)
            .filter(|n| {
                r.chain_for(ChainKind::AtsRsaCrossSigned, 0, *n) == ChainKind::AtsRsaCrossSigned
            })
            .count();
        // 10,000 draws at 0.5: 4 sigma is 200.
        assert!((with as i64 - 5_000).abs() < 200, "{with}");
        assert!(r.chains().contains(&ChainKind::AtsRsa));
        let all = Rotation::default();
        assert_eq!(
            all.chain_for(ChainKind::AtsRsaCrossSigned, 0, 7),
            ChainKind::AtsRsaCrossSigned
        );
        assert!(Rotation {
            starfield_cross_share: 1.5,
            ..Rotation::default()
        }
        .validate()
        .is_err());
    }
}
