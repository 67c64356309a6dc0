//! Cost of recording one latency sample on the hot path (target < 50 ns),
//! and of handing a worker's interval to the aggregate once per tick.
//!
//! Run: `cargo bench --bench recorder`

use std::hint::black_box;
use std::time::Duration;

use chainstorm::metrics::{Aggregate, EndpointKind, LocalRecorder, Phase, SeriesKey};
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let keys: Vec<SeriesKey> = (0..6u16)
        .flat_map(|g| {
            Phase::ALL.into_iter().map(move |phase| SeriesKey {
                phase,
                group: g,
                endpoint: EndpointKind::AtsRsa,
                anchor: None,
            })
        })
        .collect();
    let mut rec = LocalRecorder::default();
    // Warm every series so the bench measures steady state.
    for k in &keys {
        rec.record(*k, 1_000_000);
    }
    let mut i = 0usize;
    let mut v = 123_457u64;
    c.bench_function("record_one_sample", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            rec.record(black_box(keys[i]), 50_000 + (v >> 44));
        })
    });
    c.bench_function("tick_take_and_absorb_42_series", |b| {
        let mut agg = Aggregate::default();
        b.iter(|| {
            for k in &keys {
                rec.record(*k, 2_000_000);
            }
            let d = rec.take();
            agg.absorb(black_box(&d));
        })
    });
}

criterion_group! {
    name = recorder;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(recorder);
