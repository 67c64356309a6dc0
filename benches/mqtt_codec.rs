//! Encoding and decoding CONNECT, CONNACK and PUBLISH (256-byte payload),
//! MQTT 3.1.1 and 5.0.
//!
//! Run: `cargo bench --bench mqtt_codec`

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chainstorm::mqtt::{self, ConnAck, Connect, Packet, Properties, Protocol, Publish, QoS};
use criterion::{criterion_group, criterion_main, Criterion};

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("mqtt_codec");
    for proto in [Protocol::V311, Protocol::V5] {
        let v = if proto == Protocol::V5 { "v5" } else { "v311" };
        let packets = [
            (
                "connect",
                Packet::Connect(Connect::new(proto, "device-000042", 60)),
            ),
            (
                "connack",
                Packet::ConnAck(ConnAck {
                    session_present: false,
                    code: 0,
                    properties: Properties::default(),
                }),
            ),
            (
                "publish",
                Packet::Publish(Publish {
                    dup: false,
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    topic: "dt/chainstorm/fleet/device-000042/telemetry".into(),
                    packet_id: Some(7),
                    properties: Properties::default(),
                    payload: Bytes::from(vec![0x5a; 256]),
                }),
            ),
        ];
        for (name, p) in packets {
            let mut buf = BytesMut::with_capacity(512);
            g.bench_function(format!("encode/{name}/{v}"), |b| {
                b.iter(|| {
                    buf.clear();
                    mqtt::encode(black_box(&p), proto, &mut buf);
                })
            });
            let mut wire = BytesMut::new();
            mqtt::encode(&p, proto, &mut wire);
            g.bench_function(format!("decode/{name}/{v}"), |b| {
                b.iter(|| {
                    black_box(
                        mqtt::decode(black_box(&wire), proto, mqtt::DEFAULT_MAX_REMAINING).unwrap(),
                    )
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = mqtt_codec;
    config = Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(mqtt_codec);
