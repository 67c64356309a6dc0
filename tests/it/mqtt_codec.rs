//! The MQTT codec: exact bytes, strict rejections, round trips over random
//! packets, no panic on random bytes, and a differential check against the
//! `mqtt-proto` crate on valid 3.1.1 packets.

use bytes::{Bytes, BytesMut};
use chainstorm::mqtt::raw::{LengthField, RawPacket};
use chainstorm::mqtt::*;
use proptest::prelude::*;

fn enc(p: &Packet, proto: Protocol) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode(p, proto, &mut b);
    b.to_vec()
}

fn dec(b: &[u8], proto: Protocol) -> Result<Option<Decoded>, MqttError> {
    decode(b, proto, DEFAULT_MAX_REMAINING)
}

#[test]
fn exact_bytes() {
    let ack = Packet::ConnAck(ConnAck {
        session_present: false,
        code: 0,
        properties: Properties::default(),
    });
    assert_eq!(enc(&ack, Protocol::V311), [0x20, 0x02, 0x00, 0x00]);
    // 5.0 CONNACK carries an (empty) property length.
    assert_eq!(enc(&ack, Protocol::V5), [0x20, 0x03, 0x00, 0x00, 0x00]);
    assert_eq!(enc(&Packet::PingReq, Protocol::V311), [0xc0, 0x00]);
    let c = Packet::Connect(Connect::new(Protocol::V311, "d1", 60));
    assert_eq!(
        enc(&c, Protocol::V311),
        [0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 2, b'd', b'1']
    );
}

#[test]
fn incomplete_input_asks_for_more() {
    let c = enc(
        &Packet::Connect(Connect::new(Protocol::V5, "device-1", 30)),
        Protocol::V5,
    );
    for n in 0..c.len() {
        assert_eq!(dec(&c[..n], Protocol::V5), Ok(None), "prefix {n}");
    }
    assert_eq!(dec(&c, Protocol::V5).unwrap().unwrap().len, c.len());
}

#[test]
fn strict_rejections() {
    // Five-byte remaining length.
    assert_eq!(
        dec(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], Protocol::V311),
        Err(MqttError::BadRemainingLength)
    );
    // Declared larger than the cap: rejected before buffering the body.
    assert_eq!(
        decode(&[0x30, 0xff, 0xff, 0x7f], Protocol::V311, 1024),
        Err(MqttError::PacketTooLarge {
            len: 2_097_151,
            max: 1024
        })
    );
    // PINGREQ with flags set.
    assert_eq!(
        dec(&[0xc1, 0x00], Protocol::V311),
        Err(MqttError::BadFlags {
            ptype: 12,
            flags: 1
        })
    );
    // SUBSCRIBE must have flags 0010.
    assert!(matches!(
        dec(&[0x80, 0x05, 0, 1, 0, 1, b'a'], Protocol::V311),
        Err(MqttError::BadFlags { .. })
    ));
    // PUBLISH QoS 3.
    assert_eq!(
        dec(&[0x36, 0x03, 0, 1, b'a'], Protocol::V311),
        Err(MqttError::BadQos)
    );
    // Reserved packet types and QoS 2 flow packets.
    assert_eq!(
        dec(&[0x00, 0x00], Protocol::V311),
        Err(MqttError::BadPacketType(0))
    );
    assert_eq!(
        dec(&[0x62, 0x02, 0, 1], Protocol::V311),
        Err(MqttError::BadPacketType(6))
    );
    // PINGREQ with a body.
    assert_eq!(
        dec(&[0xc0, 0x01, 0x00], Protocol::V311),
        Err(MqttError::TrailingBytes(1))
    );
    // Invalid UTF-8 and U+0000 in a topic.
    assert!(matches!(
        dec(&[0x30, 0x03, 0, 1, 0xff], Protocol::V311),
        Err(MqttError::BadString(_))
    ));
    assert!(matches!(
        dec(&[0x30, 0x03, 0, 1, 0x00], Protocol::V311),
        Err(MqttError::BadString(_))
    ));
    // Unknown 5.0 property.
    assert_eq!(
        dec(&[0x20, 0x05, 0, 0, 2, 0x7f, 0], Protocol::V5),
        Err(MqttError::UnknownProperty(0x7f))
    );
    // A string length running past the body.
    assert!(matches!(
        dec(&[0x30, 0x02, 0x00, 0x05], Protocol::V311),
        Err(MqttError::Truncated(_))
    ));
}

#[test]
fn raw_encoder_writes_what_it_is_told() {
    let p = Packet::Connect(Connect::new(Protocol::V311, "x", 60));
    let raw = RawPacket::from_packet(&p, Protocol::V311);
    assert_eq!(raw.to_bytes(), enc(&p, Protocol::V311));
    let lie = raw.clone().with_length_delta(3).to_bytes();
    assert_eq!(lie[1], enc(&p, Protocol::V311)[1] + 3);
    let flagged = raw.clone().with_flags(0b0001).to_bytes();
    assert_eq!(flagged[0], 0x11);
    assert!(matches!(
        dec(&flagged, Protocol::V311),
        Err(MqttError::BadFlags { .. })
    ));
    let five = RawPacket {
        length: LengthField::Value(u32::MAX),
        ..raw
    }
    .to_bytes();
    assert_eq!(&five[1..6], &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(
        dec(&five, Protocol::V311),
        Err(MqttError::BadRemainingLength)
    );
}

#[test]
fn connect_level_peek() {
    let c = enc(
        &Packet::Connect(Connect::new(Protocol::V5, "a", 1)),
        Protocol::V5,
    );
    assert_eq!(decode_connect_level(&c), Some(5));
    assert_eq!(decode_connect_level(&[0x10, 0x02, 0x00]), None);
}

// ---- random packets ----

fn string() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/_é-]{0,24}"
}

fn topic() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}"
}

fn props(v5: bool) -> BoxedStrategy<Properties> {
    if !v5 {
        return Just(Properties::default()).boxed();
    }
    let prop = prop_oneof![
        any::<u32>().prop_map(|v| Property {
            id: prop_id::SESSION_EXPIRY,
            value: PropValue::U32(v)
        }),
        any::<u16>().prop_map(|v| Property {
            id: prop_id::SERVER_KEEP_ALIVE,
            value: PropValue::U16(v)
        }),
        string().prop_map(|s| Property {
            id: prop_id::REASON_STRING,
            value: PropValue::Str(s)
        }),
        (string(), string()).prop_map(|(k, v)| Property {
            id: prop_id::USER_PROPERTY,
            value: PropValue::Pair(k, v)
        }),
        (0u32..268_435_455).prop_map(|v| Property {
            id: 0x0B,
            value: PropValue::VarInt(v)
        }),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Property {
            id: 0x09,
            value: PropValue::Bin(Bytes::from(b))
        }),
    ];
    proptest::collection::vec(prop, 0..4)
        .prop_map(Properties)
        .boxed()
}

fn packet(v5: bool) -> BoxedStrategy<Packet> {
    let level = if v5 { 5 } else { 4 };
    let connect = (
        string(),
        any::<bool>(),
        any::<u16>(),
        props(v5),
        proptest::option::of((
            props(v5),
            topic(),
            proptest::collection::vec(any::<u8>(), 0..16),
            0u8..3,
            any::<bool>(),
        )),
        proptest::option::of(string()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
    )
        .prop_map(
            move |(client_id, clean, ka, properties, will, user, pass)| {
                // 3.1.1 forbids a password without a user name.
                let user = if !v5 && pass.is_some() && user.is_none() {
                    Some(String::new())
                } else {
                    user
                };
                Packet::Connect(Connect {
                    protocol_name: "MQTT".into(),
                    level,
                    clean_start: clean,
                    reserved_flag: false,
                    keep_alive: ka,
                    properties,
                    client_id,
                    will: will.map(|(properties, topic, payload, qos, retain)| Will {
                        properties,
                        topic,
                        payload: Bytes::from(payload),
                        qos,
                        retain,
                    }),
                    username: user,
                    password: pass.map(Bytes::from),
                })
            },
        );
    let publish = (
        any::<bool>(),
        0u8..2,
        any::<bool>(),
        topic(),
        1u16..,
        props(v5),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(dup, q, retain, topic, id, properties, payload)| {
            let qos = QoS::from_bits(q).unwrap();
            Packet::Publish(Publish {
                dup: dup && qos != QoS::AtMostOnce,
                qos,
                retain,
                topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(id),
                properties,
                payload: Bytes::from(payload),
            })
        });
    let subscribe = (
        any::<u16>(),
        props(v5),
        proptest::collection::vec((topic(), 0u8..3), 1..4),
    )
        .prop_map(|(packet_id, properties, f)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters: f
                    .into_iter()
                    .map(|(filter, options)| Subscription { filter, options })
                    .collect(),
            })
        });
    let suback = (
        any::<u16>(),
        props(v5),
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0x80)], 1..4),
    )
        .prop_map(|(packet_id, properties, codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                properties,
                codes,
            })
        });
    let connack =
        (any::<bool>(), any::<u8>(), props(v5)).prop_map(|(session_present, code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties,
            })
        });
    let reason = if v5 {
        (0u8..=255).boxed()
    } else {
        Just(0u8).boxed()
    };
    let puback =
        (any::<u16>(), reason.clone(), props(v5)).prop_map(|(packet_id, reason, properties)| {
            Packet::PubAck(PubAck {
                packet_id,
                reason,
                properties,
            })
        });
    let disconnect = (reason, props(v5))
        .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }));
    let unsub = (
        any::<u16>(),
        props(v5),
        proptest::collection::vec(topic(), 1..3),
    )
        .prop_map(|(packet_id, properties, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        });
    prop_oneof![
        connect,
        publish,
        subscribe,
        suback,
        connack,
        puback,
        disconnect,
        unsub,
        Just(Packet::PingReq),
        Just(Packet::PingResp)
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_311(p in packet(false)) {
        let b = enc(&p, Protocol::V311);
        let d = dec(&b, Protocol::V311).unwrap().unwrap();
        prop_assert_eq!(d.len, b.len());
        prop_assert_eq!(d.packet, p);
    }

    #[test]
    fn round_trip_5(p in packet(true)) {
        let b = enc(&p, Protocol::V5);
        let d = dec(&b, Protocol::V5).unwrap().unwrap();
        prop_assert_eq!(d.len, b.len());
        prop_assert_eq!(d.packet, p);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), v5 in any::<bool>()) {
        let proto = if v5 { Protocol::V5 } else { Protocol::V311 };
        if let Ok(Some(d)) = decode(&b, proto, 1024) {
            prop_assert!(d.len <= b.len());
        }
    }

    /// A declared remaining length above the cap is refused from the fixed
    /// header alone: the decoder never waits for (or buffers) the body, so
    /// what it holds stays under the cap whatever a peer claims.
    #[test]
    fn declared_length_over_the_cap_is_refused_up_front(
        cap in 16u32..100_000,
        over in 1u32..100_000_000,
        ptype in 1u8..15,
        tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let declared = (cap + over).min(268_435_455);
        prop_assume!(declared > cap);
        let raw = RawPacket { first_byte: ptype << 4, length: LengthField::Value(declared), body: tail };
        let r = decode(&raw.to_bytes(), Protocol::V5, cap);
        prop_assert!(matches!(r, Err(MqttError::PacketTooLarge { len, max }) if len == declared && max == cap), "{:?}", r);
    }

    /// Our encoding of a valid 3.1.1 packet decodes in mqtt-proto to the same
    /// fields, and mqtt-proto's encoding decodes in ours to the same packet.
    #[test]
    fn differential_against_mqtt_proto(p in packet(false).prop_filter(
        "3.1.1 defines CONNACK codes 0-5 only",
        |p| !matches!(p, Packet::ConnAck(a) if a.code > 5),
    )) {
        use mqtt_proto::v3::Packet as Theirs;
        let ours = enc(&p, Protocol::V311);
        let theirs = Theirs::decode(&ours).expect("mqtt-proto decodes our bytes").expect("complete");
        match (&p, &theirs) {
            (Packet::Connect(a), Theirs::Connect(b)) => {
                prop_assert_eq!(&a.client_id, b.client_id.as_str());
                prop_assert_eq!(a.keep_alive, b.keep_alive);
                prop_assert_eq!(a.clean_start, b.clean_session);
                prop_assert_eq!(a.username.as_deref(), b.username.as_deref().map(|s| s.as_str()));
                prop_assert_eq!(a.password.as_ref(), b.password.as_ref());
                prop_assert_eq!(a.will.as_ref().map(|w| w.topic.as_str()), b.last_will.as_ref().map(|w| &*w.topic_name));
            }
            (Packet::Publish(a), Theirs::Publish(b)) => {
                prop_assert_eq!(a.topic.as_str(), &*b.topic_name);
                prop_assert_eq!(&a.payload, &b.payload);
                prop_assert_eq!(a.retain, b.retain);
                prop_assert_eq!(a.dup, b.dup);
            }
            (Packet::Subscribe(a), Theirs::Subscribe(b)) => {
                prop_assert_eq!(a.packet_id, b.pid.value());
                let f: Vec<&str> = b.topics.iter().map(|(t, _)| &**t).collect();
                let g: Vec<&str> = a.filters.iter().map(|s| s.filter.as_str()).collect();
                prop_assert_eq!(f, g);
            }
            (Packet::PingReq, Theirs::Pingreq) | (Packet::PingResp, Theirs::Pingresp) => {}
            (Packet::Disconnect(_), Theirs::Disconnect) => {}
            (Packet::PubAck(a), Theirs::Puback(b)) => prop_assert_eq!(a.packet_id, b.value()),
            _ => {}
        }
        // And back: their bytes, our decoder.
        let back = theirs.encode().expect("mqtt-proto re-encodes");
        let d = dec(back.as_ref(), Protocol::V311).unwrap().unwrap();
        prop_assert_eq!(enc(&d.packet, Protocol::V311), back.as_ref().to_vec());
    }
}
