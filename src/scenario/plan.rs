//! The seeded plan: which devices exist, in which order they arrive and
//! when. Same scenario and seed → the same plan, byte for byte.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::load::{ArrivalSpec, Scenario};
use super::schema::ArrivalMode;

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

/// Arrival offsets for `n` devices under `spec`, within `duration`.
pub fn arrival_offsets(spec: &ArrivalSpec, n: usize, duration: Duration) -> Vec<Duration> {
    if spec.mode == ArrivalMode::Storm {
        return vec![Duration::ZERO; n];
    }
    // Integrate the piecewise-linear rate in 100 µs steps; emit an arrival
    // each time the cumulative count passes the next integer.
    let dt = 1e-4;
    let end = duration.as_secs_f64();
    let mut out = Vec::with_capacity(n);
    let (mut t, mut acc) = (0.0f64, 0.0f64);
    let mut stage_start = 0.0;
    let mut from = spec.start_rate;
    let mut stages = spec.stages.iter();
    let mut current = stages.next().copied();
    while out.len() < n && t < end {
        let rate = match current {
            Some((to, over)) => {
                if t - stage_start >= over {
                    stage_start += over;
                    from = to;
                    current = stages.next().copied();
                    continue;
                }
                from + (to - from) * ((t - stage_start) / over)
            }
            // After the last stage the last rate holds.
            None => from,
        };
        if rate <= 0.0 && current.is_none() {
            break;
        }
        acc += rate * dt;
        t += dt;
        while acc >= 1.0 && out.len() < n {
            acc -= 1.0;
            out.push(Duration::from_secs_f64(t));
        }
    }
    out
}

/// Expands `{group}`, `{index}` and `{index:0N}`.
fn client_id(template: &str, group: &str, index: u32) -> String {
    let mut out = template
        .replace("{group}", group)
        .replace("{index}", &index.to_string());
    while let Some(start) = out.find("{index:0") {
        let Some(end) = out[start..].find('}') else {
            break;
        };
        let width: usize = out[start + 8..start + end].parse().unwrap_or(0);
        out.replace_range(start..start + end + 1, &format!("{index:0width$}"));
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
                    client_id: client_id(&g.client_id, &g.name, i),
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
        assert_eq!(client_id("{group}-{index:06}", "jdk", 42), "jdk-000042");
        assert_eq!(client_id("dev{index}", "g", 7), "dev7");
    }
}
