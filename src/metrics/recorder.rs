//! Recording without locks on the hot path: each worker thread owns a
//! [`LocalRecorder`] (no atomics, no locks, no channel per sample) and hands
//! its interval over once per tick; the [`Aggregate`] merges the intervals.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use hdrhistogram::Histogram;

use super::cause::FailPhase;
use super::failure::{FailureKey, FailureStat};
use super::phase::SeriesKey;
use super::wire::{WireHists, WireKey, WireSample};

/// Highest value recorded, ns: histograms cover 1 ns .. 60 s at 3 significant
/// digits (see ARCHITECTURE.md, `metrics`).
pub const MAX_NANOS: u64 = 60_000_000_000;

/// A new histogram: 3 significant digits, auto-resizing so an interval that
/// only saw microseconds does not pay for the 60 s range.
pub fn histogram() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    h.auto(true);
    h
}

/// A fast, non-cryptographic hasher for the recorder's small keys (the
/// default SipHash costs more than recording the sample). Keys come from this
/// process, never from the network, so flooding is not a concern.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        // Multiply-rotate mixing (FxHash's constant).
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// Map type of the recorder.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Counters of one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Attempts started.
    pub attempted: u64,
    /// Attempts that reached their goal (CONNACK accepted, or handshake for `tls`).
    pub succeeded: u64,
    /// Attempts that failed, by [`FailPhase`] index.
    pub failed_by_phase: [u64; 6],
    /// Connected sessions that ended (gracefully or not).
    pub disconnected: u64,
    /// Attempts cut off at the drain deadline (in flight when the run stopped).
    pub aborted: u64,
    /// Completed TLS handshakes by kind: full, full after HelloRetryRequest, resumed.
    pub handshakes: [u64; 3],
}

impl Counts {
    /// Failed attempts in total (dial, tls, verify, mqtt, internal). Hold
    /// failures happen after an attempt succeeded and are not attempt outcomes.
    pub fn failed(&self) -> u64 {
        let all: u64 = self.failed_by_phase.iter().sum();
        all - self.hold_failures()
    }

    /// The accounting identity, attempted = succeeded + failed + in flight
    /// at stop; `Some(message)` when it does not hold (a bug).
    pub fn accounting_error(&self) -> Option<String> {
        (self.attempted != self.succeeded + self.failed() + self.aborted).then(|| {
            format!(
                "attempted {} != succeeded {} + failed {} + in flight at stop {}",
                self.attempted,
                self.succeeded,
                self.failed(),
                self.aborted
            )
        })
    }

    /// Sessions that failed while connected.
    pub fn hold_failures(&self) -> u64 {
        self.failed_by_phase[FailPhase::Hold as usize]
    }

    fn add(&mut self, o: &Counts) {
        self.attempted += o.attempted;
        self.succeeded += o.succeeded;
        self.disconnected += o.disconnected;
        self.aborted += o.aborted;
        for (a, b) in self.handshakes.iter_mut().zip(o.handshakes) {
            *a += b;
        }
        for (a, b) in self.failed_by_phase.iter_mut().zip(o.failed_by_phase) {
            *a += b;
        }
    }
}

/// What one worker recorded during one interval.
#[derive(Debug, Default)]
pub struct IntervalData {
    /// Latency series.
    pub series: FastMap<SeriesKey, Histogram<u64>>,
    /// Failures.
    pub failures: FastMap<FailureKey, FailureStat>,
    /// Counters.
    pub counts: Counts,
    /// What successful connects put on the wire.
    pub wire: FastMap<WireKey, WireHists>,
}

impl IntervalData {
    /// Adds another interval into this one.
    pub fn merge(&mut self, o: IntervalData) {
        for (k, h) in o.series {
            match self.series.get_mut(&k) {
                Some(mine) => {
                    let _ = mine.add(&h);
                }
                None => {
                    self.series.insert(k, h);
                }
            }
        }
        for (k, f) in o.failures {
            match self.failures.get_mut(&k) {
                Some(mine) => mine.merge(&f),
                None => {
                    self.failures.insert(k, f);
                }
            }
        }
        self.counts.add(&o.counts);
        for (k, w) in o.wire {
            match self.wire.get_mut(&k) {
                Some(mine) => mine.add(&w),
                None => {
                    self.wire.insert(k, w);
                }
            }
        }
    }
}

/// A worker's recorder. Owned by one thread; `take` hands the interval over.
#[derive(Debug, Default)]
pub struct LocalRecorder {
    data: IntervalData,
}

impl LocalRecorder {
    /// Records a latency in ns (clamped to 1 ns .. 60 s).
    pub fn record(&mut self, key: SeriesKey, nanos: u64) {
        let v = nanos.clamp(1, MAX_NANOS);
        // get_mut first: the common case needs no owned key for `entry`.
        match self.data.series.get_mut(&key) {
            // Cannot fail: auto-resize is on and the value is within range.
            Some(h) => {
                let _ = h.record(v);
            }
            None => {
                let mut h = histogram();
                let _ = h.record(v);
                self.data.series.insert(key, h);
            }
        }
    }

    /// Records what a successful connect put on the wire.
    pub fn wire(&mut self, key: WireKey, sample: &WireSample) {
        self.data.wire.entry(key).or_default().record(sample);
    }

    /// Counts an attempt start.
    pub fn attempt(&mut self) {
        self.data.counts.attempted += 1;
    }

    /// Counts a success.
    pub fn success(&mut self) {
        self.data.counts.succeeded += 1;
    }

    /// Counts a completed handshake by kind: 0 full, 1 full after HelloRetryRequest, 2 resumed.
    pub fn handshake(&mut self, kind: usize) {
        self.data.counts.handshakes[kind.min(2)] += 1;
    }

    /// Counts an attempt cut off at the drain deadline.
    pub fn aborted(&mut self) {
        self.data.counts.aborted += 1;
    }

    /// Counts the end of a connected session.
    pub fn disconnected(&mut self) {
        self.data.counts.disconnected += 1;
    }

    /// Counts a failure; `at_ms` is the time since the run started.
    pub fn fail(&mut self, key: FailureKey, at_ms: u64, message: &str) {
        self.data.counts.failed_by_phase[key.phase() as usize] += 1;
        match self.data.failures.get_mut(&key) {
            Some(s) => {
                s.count += 1;
                s.last_seen_ms = s.last_seen_ms.max(at_ms);
            }
            None => {
                self.data.failures.insert(
                    key,
                    FailureStat {
                        count: 1,
                        first_seen_ms: at_ms,
                        last_seen_ms: at_ms,
                        sample: message.to_string(),
                    },
                );
            }
        }
    }

    /// Hands over everything recorded since the last call.
    pub fn take(&mut self) -> IntervalData {
        std::mem::take(&mut self.data)
    }
}

/// Everything recorded since the run started.
#[derive(Debug, Default)]
pub struct Aggregate {
    /// Cumulative histograms per key.
    pub series: BTreeMap<SeriesKey, Histogram<u64>>,
    /// Failures per key.
    pub failures: BTreeMap<FailureKey, FailureStat>,
    /// Counters.
    pub counts: Counts,
    /// Wire statistics per key.
    pub wire: BTreeMap<WireKey, WireHists>,
}

impl Aggregate {
    /// Adds an interval.
    pub fn absorb(&mut self, d: &IntervalData) {
        for (k, h) in &d.series {
            let mine = self.series.entry(*k).or_insert_with(histogram);
            let _ = mine.add(h);
        }
        for (k, f) in &d.failures {
            match self.failures.get_mut(k) {
                Some(mine) => mine.merge(f),
                None => {
                    self.failures.insert(k.clone(), f.clone());
                }
            }
        }
        self.counts.add(&d.counts);
        for (k, w) in &d.wire {
            self.wire.entry(*k).or_default().add(w);
        }
    }

    /// Failed attempts per phase.
    pub fn failed_in(&self, p: FailPhase) -> u64 {
        self.counts.failed_by_phase[p as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Cause, EndpointKind, Phase, VerifyCause};

    fn key(phase: Phase) -> SeriesKey {
        SeriesKey {
            phase,
            group: 0,
            endpoint: EndpointKind::AtsRsa,
            anchor: None,
        }
    }

    #[test]
    fn intervals_merge_losslessly() {
        let mut a = LocalRecorder::default();
        let mut b = LocalRecorder::default();
        for i in 1..=1000u64 {
            a.record(key(Phase::TlsHandshake), i * 1000);
            b.record(key(Phase::TlsHandshake), i * 2000);
        }
        a.attempt();
        b.attempt();
        let fk = FailureKey {
            cause: Cause::Verify(VerifyCause::UnknownIssuer),
            group: 0,
            endpoint: EndpointKind::Ats,
        };
        b.fail(fk.clone(), 20, "second");
        a.fail(fk.clone(), 10, "first");
        let mut agg = Aggregate::default();
        let mut merged = a.take();
        merged.merge(b.take());
        agg.absorb(&merged);
        let h = &agg.series[&key(Phase::TlsHandshake)];
        assert_eq!(h.len(), 2000);
        assert_eq!(h.max(), h.highest_equivalent(2_000_000));
        assert_eq!(agg.counts.attempted, 2);
        assert_eq!(agg.failures[&fk].count, 2);
        assert_eq!(agg.failures[&fk].sample, "first");
        assert_eq!(agg.failed_in(FailPhase::Verify), 2);
        // take() leaves the recorder empty for the next interval.
        assert!(a.take().series.is_empty());
    }

    #[test]
    fn values_are_clamped_to_the_design_range() {
        let mut r = LocalRecorder::default();
        r.record(key(Phase::ConnectTotal), 0);
        r.record(key(Phase::ConnectTotal), u64::MAX);
        let d = r.take();
        let h = &d.series[&key(Phase::ConnectTotal)];
        assert_eq!(h.min(), 1);
        assert!(h.max() >= MAX_NANOS && h.max() <= MAX_NANOS + MAX_NANOS / 1000);
    }
}
