//! The seeded plan: which devices exist, in which order they arrive and
//! when. Same scenario and seed → the same plan, byte for byte.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::schema::ArrivalMode;
use super::types::{ArrivalSpec, Scenario};

/// One device.
#[derive(Clone, Debug, PartialEq)]
pub struct DevicePlan {
    /// Fleet group index.
    pub group: u16,
    /// Index within the group.
    pub index: u32,
    /// MQTT client id (also the device certificate's CN).
    pub client_id: String,
    /// Intended start of the first attempt, from the run start.
    pub arrival: Duration,
    /// Uniform in [0, 1): decides when the device migrates.
    pub rank: f64,
    /// Whether it flips endpoint at every reconnect (dual-root devices).
    pub flips: bool,
}

/// The plan of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Devices in arrival order.
    pub devices: Vec<DevicePlan>,
}

/// The piecewise-linear rate of a `rate` arrival spec as segments
/// (start s, length s, rate at start, rate at end) cut at `end`; after the
/// last stage its rate holds until the end.
fn segments(spec: &ArrivalSpec, end: f64) -> Vec<(f64, f64, f64, f64)> {
    let mut out = Vec::new();
    let (mut t, mut from) = (0.0f64, spec.start_rate);
    for &(to, over) in &spec.stages {
        if t >= end {
            return out;
        }
        let len = over.min(end - t);
        // Cut inside a stage: the rate at the cut, by linear interpolation.
        let to_at_cut = from + (to - from) * (len / over);
        out.push((t, len, from, to_at_cut));
        t += over;
        from = to;
    }
    if t < end && from > 0.0 {
        out.push((t, end - t, from, from));
    }
    out
}

/// One slice of a plan split across processes: shard `index` of `count`
/// (`0 <= index < count`), written `I/N` on the command line and in results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    /// This slice, from 0.
    pub index: u32,
    /// Slices the plan is split into.
    pub count: u32,
}

/// A shard that is not `I/N` with whole numbers `0 <= I < N`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?}: expected I/N with whole numbers 0 <= I < N, e.g. 0/4")]
pub struct BadShard(pub String);

impl Shard {
    /// Keeps this shard's devices: every `count`-th device of the plan, so
    /// the slices are disjoint (device and client ids), interleaved in time
    /// (each slice runs at 1/count of the arrival rate) and from the same seed.
    pub fn keep_own(self, plan: &mut Plan) {
        let mut k = 0usize;
        plan.devices.retain(|_| {
            let keep = k % self.count as usize == self.index as usize;
            k += 1;
            keep
        });
    }

    /// The share of the plan's rate and sessions this shard runs (1 unsharded).
    pub fn share(shard: Option<Shard>) -> f64 {
        1.0 / f64::from(shard.map_or(1, |s| s.count))
    }
}

impl std::str::FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The arrival rate the spec intends at `t` seconds (the last stage's rate
/// holds after it; a storm has none).
pub fn rate_at(spec: &ArrivalSpec, t: f64) -> f64 {
    if spec.mode == ArrivalMode::Storm {
        return 0.0;
    }
    let (mut start, mut from) = (0.0f64, spec.start_rate);
    for &(to, over) in &spec.stages {
        if t < start + over {
            return from + (to - from) * ((t - start) / over);
        }
        start += over;
        from = to;
    }
    from
}

/// Sessions a scenario expects connected at once at its peak rate: per
/// group, its share of the peak rate × its hold (Little's law), at most its
/// devices.
pub fn planned_concurrency(s: &Scenario) -> u64 {
    let total = s.total_devices();
    if total == 0 {
        return 0;
    }
    let peak = s.arrival.peak_rate();
    s.groups
        .iter()
        .map(|g| {
            let share = g.devices as f64 / total as f64;
            let l = if s.arrival.mode == ArrivalMode::Storm {
                g.devices as f64
            } else {
                peak * share * g.hold.as_secs_f64()
            };
            (l.ceil() as u64).min(g.devices)
        })
        .sum()
}

/// Arrivals the rates give within `duration` (the area under the rate).
pub fn expected_arrivals(spec: &ArrivalSpec, duration: Duration) -> f64 {
    if spec.mode == ArrivalMode::Storm {
        return f64::INFINITY;
    }
    segments(spec, duration.as_secs_f64())
        .iter()
        .map(|(_, len, a, b)| (a + b) / 2.0 * len)
        .sum()
}

/// Arrival offsets for `n` devices under `spec`, within `duration`: the
/// k-th device arrives when the cumulative rate reaches k. Solved per
/// linear segment in closed form, so the cost is proportional to the
/// devices, whatever the duration or the rate.
pub fn arrival_offsets(spec: &ArrivalSpec, n: usize, duration: Duration) -> Vec<Duration> {
    if spec.mode == ArrivalMode::Storm {
        return vec![Duration::ZERO; n];
    }
    let mut out = Vec::with_capacity(n);
    let mut cum = 0.0f64;
    let mut next = 1.0f64;
    for (t0, len, a, b) in segments(spec, duration.as_secs_f64()) {
        let slope = (b - a) / len;
        let area = (a + b) / 2.0 * len;
        // A hair of tolerance, so an exactly whole area is not lost to rounding.
        while out.len() < n && next <= cum + area + 1e-9 {
            let need = (next - cum).max(0.0);
            // a·τ + slope·τ²/2 = need, in the form that is stable for slope → 0.
            let disc = (a * a + 2.0 * slope * need).max(0.0);
            let denom = a + disc.sqrt();
            let tau = if denom > 0.0 {
                (2.0 * need / denom).min(len)
            } else {
                len
            };
            out.push(Duration::from_secs_f64(t0 + tau));
            next += 1.0;
        }
        cum += area;
        if out.len() >= n {
            break;
        }
    }
    out
}

/// Expands `{group}`, `{index}` and `{index:0N}` (N at most 20; loading
/// refuses wider ones, this clamps so no input can ask for more).
pub fn render_client_id(template: &str, group: &str, index: u32) -> String {
    let mut out = template
        .replace("{group}", group)
        .replace("{index}", &index.to_string());
    let mut from = 0;
    while let Some(found) = out[from..].find("{index:0") {
        let start = from + found;
        let Some(end) = out[start..].find('}') else {
            break;
        };
        let width: usize = out[start + 8..start + end].parse().unwrap_or(0).min(20);
        let rendered = format!("{index:0width$}");
        out.replace_range(start..start + end + 1, &rendered);
        from = start + rendered.len();
    }
    out
}

impl Plan {
    /// Builds the plan of a scenario.
    pub fn build(s: &Scenario) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
        let mut devices: Vec<DevicePlan> = Vec::new();
        for (gi, g) in s.groups.iter().enumerate() {
            for i in 0..g.devices as u32 {
                devices.push(DevicePlan {
                    group: gi as u16,
                    index: i,
                    client_id: render_client_id(&g.client_id, &g.name, i),
                    arrival: Duration::ZERO,
                    rank: 0.0,
                    flips: false,
                });
            }
        }
        // Interleave the groups, so a mixed fleet arrives mixed.
        devices.shuffle(&mut rng);
        let flip = s.migration.as_ref().map(|m| m.flip_fraction).unwrap_or(0.0);
        for d in &mut devices {
            d.rank = rng.gen();
            d.flips = rng.gen::<f64>() < flip;
        }
        let offsets = arrival_offsets(&s.arrival, devices.len(), s.duration);
        // Devices that do not fit in the run keep no arrival and are dropped.
        devices.truncate(offsets.len());
        for (d, at) in devices.iter_mut().zip(offsets) {
            d.arrival = at;
        }
        Plan { devices }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(start: f64, stages: &[(f64, f64)]) -> ArrivalSpec {
        ArrivalSpec {
            mode: ArrivalMode::Rate,
            start_rate: start,
            stages: stages.to_vec(),
            max_in_flight: 0,
        }
    }

    #[test]
    fn constant_rate_spacing() {
        let o = arrival_offsets(&spec(100.0, &[(100.0, 10.0)]), 50, Duration::from_secs(10));
        assert_eq!(o.len(), 50);
        // 100/s: the k-th arrival at about (k+1)/100 s.
        let last = o[49].as_secs_f64();
        assert!((last - 0.5).abs() < 0.002, "{last}");
    }

    #[test]
    fn ramp_integrates_to_the_area() {
        // 0 → 100/s over 10 s: 500 arrivals in 10 s, the 125th at 5 s.
        let o = arrival_offsets(
            &spec(0.0, &[(100.0, 10.0)]),
            10_000,
            Duration::from_secs(10),
        );
        assert!((o.len() as i64 - 500).abs() <= 1, "{}", o.len());
        assert!((o[124].as_secs_f64() - 5.0).abs() < 0.05, "{:?}", o[124]);
    }

    #[test]
    fn duration_truncates() {
        let o = arrival_offsets(&spec(10.0, &[(10.0, 1.0)]), 1000, Duration::from_secs(3));
        assert!((o.len() as i64 - 30).abs() <= 1);
    }

    #[test]
    fn client_id_templates() {
        assert_eq!(
            render_client_id("{group}-{index:06}", "jdk", 42),
            "jdk-000042"
        );
        assert_eq!(render_client_id("dev{index}", "g", 7), "dev7");
    }
}
