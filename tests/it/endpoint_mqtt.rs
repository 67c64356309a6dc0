//! The endpoint's MQTT side over real TLS on loopback: CONNACK codes for each
//! CONNECT violation in 3.1.1 and 5.0, ping, subscribe/publish with
//! wildcards, QoS 2 refusal, take-over, keep-alive enforcement, and garbage.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use chainstorm::endpoint::ListenerMode;
use chainstorm::mqtt::raw::RawPacket;
use chainstorm::mqtt::*;
use chainstorm::pki::Role;
use common::client::{tls, Mqtt, Opts};
use common::{ats_host, endpoint};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

async fn session(addr: std::net::SocketAddr, proto: Protocol) -> Mqtt<TlsStream<TcpStream>> {
    let o = Opts {
        roots: vec![common::pki().cert(Role::AtsRsaRoot).clone()],
        ..Opts::default()
    };
    Mqtt::new(tls(addr, &ats_host("us-east-1"), &o).await.unwrap(), proto)
}

fn connect(proto: Protocol, id: &str) -> Connect {
    Connect::new(proto, id, 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connack_codes_for_each_violation() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    // (what, protocol, CONNECT, expected CONNACK code or None for a close)
    let long = "x".repeat(129);
    let cases: Vec<(&str, Protocol, Connect, Option<u8>)> = vec![
        (
            "accepted 3.1.1",
            Protocol::V311,
            connect(Protocol::V311, "ok-311"),
            Some(0),
        ),
        (
            "accepted 5.0",
            Protocol::V5,
            connect(Protocol::V5, "ok-5"),
            Some(0),
        ),
        (
            "level 3",
            Protocol::V311,
            Connect {
                level: 3,
                ..connect(Protocol::V311, "l3")
            },
            Some(codes::V3_UNACCEPTABLE_PROTOCOL),
        ),
        (
            "bad name",
            Protocol::V311,
            Connect {
                protocol_name: "MQIsdp".into(),
                ..connect(Protocol::V311, "n")
            },
            Some(1),
        ),
        (
            "bad name 5.0",
            Protocol::V5,
            Connect {
                protocol_name: "MQTX".into(),
                ..connect(Protocol::V5, "n5")
            },
            Some(codes::V5_UNSUPPORTED_PROTOCOL),
        ),
        (
            "reserved flag 3.1.1",
            Protocol::V311,
            Connect {
                reserved_flag: true,
                ..connect(Protocol::V311, "r")
            },
            None,
        ),
        (
            "reserved flag 5.0",
            Protocol::V5,
            Connect {
                reserved_flag: true,
                ..connect(Protocol::V5, "r5")
            },
            Some(codes::V5_MALFORMED),
        ),
        (
            "client id 129 bytes",
            Protocol::V311,
            connect(Protocol::V311, &long),
            Some(codes::V3_IDENTIFIER_REJECTED),
        ),
        (
            "client id 129 bytes 5.0",
            Protocol::V5,
            connect(Protocol::V5, &long),
            Some(codes::V5_CLIENT_ID_INVALID),
        ),
        (
            "empty id, no clean session",
            Protocol::V311,
            Connect {
                clean_start: false,
                ..connect(Protocol::V311, "")
            },
            Some(2),
        ),
        (
            "keep alive 1201",
            Protocol::V311,
            Connect {
                keep_alive: 1201,
                ..connect(Protocol::V311, "ka")
            },
            Some(codes::V3_IDENTIFIER_REJECTED),
        ),
        (
            "keep alive 1201 5.0",
            Protocol::V5,
            Connect {
                keep_alive: 1201,
                ..connect(Protocol::V5, "ka5")
            },
            Some(codes::V5_PROTOCOL_ERROR),
        ),
    ];
    for (what, proto, c, want) in cases {
        let mut m = session(addr, proto).await;
        let got = m.connect(c).await.map(|a| a.code);
        assert_eq!(got, want, "{what}");
        if want != Some(0) {
            assert!(
                m.closed_within(Duration::from_secs(2)).await,
                "{what}: closed after refusal"
            );
        }
    }
    let snap = ep.counters().snapshot();
    assert_eq!(snap.connacks.get(&0), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_client_id_gets_one_assigned_in_v5() {
    let ep = endpoint(|_| {}).await;
    let mut m = session(ep.addr(ListenerMode::Mqtt).unwrap(), Protocol::V5).await;
    let ack = m.connect(connect(Protocol::V5, "")).await.unwrap();
    assert_eq!(ack.code, 0);
    match ack.properties.get(prop_id::ASSIGNED_CLIENT_ID) {
        Some(PropValue::Str(s)) => assert!(s.starts_with("chainstorm-assigned-")),
        other => panic!("{other:?}"),
    }
    // Keep alive below AWS's 30 s floor is raised, and 5.0 says so.
    let mut m = session(ep.addr(ListenerMode::Mqtt).unwrap(), Protocol::V5).await;
    let ack = m
        .connect(Connect {
            keep_alive: 5,
            ..connect(Protocol::V5, "short-ka")
        })
        .await
        .unwrap();
    assert_eq!(
        ack.properties.get(prop_id::SERVER_KEEP_ALIVE),
        Some(&PropValue::U16(30))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_subscribe_publish_with_wildcards() {
    for proto in [Protocol::V311, Protocol::V5] {
        let ep = endpoint(|_| {}).await;
        let addr = ep.addr(ListenerMode::Mqtt).unwrap();
        let mut sub = session(addr, proto).await;
        assert_eq!(sub.connect(connect(proto, "sub")).await.unwrap().code, 0);
        sub.send(&Packet::PingReq).await;
        assert_eq!(sub.recv().await, Some(Packet::PingResp));
        sub.send(&Packet::Subscribe(Subscribe {
            packet_id: 7,
            properties: Properties::default(),
            filters: vec![
                Subscription {
                    filter: "fleet/+/telemetry".into(),
                    options: 1,
                },
                Subscription {
                    filter: "alerts/#".into(),
                    options: 0,
                },
                Subscription {
                    filter: "qos2/topic".into(),
                    options: 2,
                },
                Subscription {
                    filter: "bad/#/filter".into(),
                    options: 0,
                },
            ],
        }))
        .await;
        match sub.recv().await {
            Some(Packet::SubAck(a)) => {
                assert_eq!(a.packet_id, 7);
                let bad = if proto == Protocol::V5 { 0x8F } else { 0x80 };
                assert_eq!(a.codes, vec![1, 0, 0x80, bad], "{proto:?}");
            }
            other => panic!("{other:?}"),
        }
        let mut publ = session(addr, proto).await;
        assert_eq!(publ.connect(connect(proto, "pub")).await.unwrap().code, 0);
        publ.send(&Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "fleet/dev-1/telemetry".into(),
            packet_id: Some(3),
            properties: Properties::default(),
            payload: Bytes::from_static(b"{\"t\":21.5}"),
        }))
        .await;
        match publ.recv().await {
            Some(Packet::PubAck(a)) => assert_eq!(a.packet_id, 3),
            other => panic!("{other:?}"),
        }
        publ.send(&Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "alerts/fire/room-2".into(),
            packet_id: None,
            properties: Properties::default(),
            payload: Bytes::from_static(b"!"),
        }))
        .await;
        publ.send(&Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "other/topic".into(),
            packet_id: None,
            properties: Properties::default(),
            payload: Bytes::from_static(b"nobody"),
        }))
        .await;
        match sub.recv().await {
            Some(Packet::Publish(p)) => {
                assert_eq!(p.topic, "fleet/dev-1/telemetry");
                assert_eq!(p.qos, QoS::AtLeastOnce);
                assert!(p.packet_id.is_some());
                assert_eq!(&p.payload[..], b"{\"t\":21.5}");
            }
            other => panic!("{other:?}"),
        }
        match sub.recv().await {
            Some(Packet::Publish(p)) => assert_eq!(p.topic, "alerts/fire/room-2"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            sub.recv_within(Duration::from_millis(300)).await,
            None,
            "no delivery for other/topic"
        );
        // Unsubscribe, then clean DISCONNECT.
        sub.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: 8,
            properties: Properties::default(),
            filters: vec!["alerts/#".into()],
        }))
        .await;
        assert!(matches!(sub.recv().await, Some(Packet::UnsubAck(u)) if u.packet_id == 8));
        sub.send(&Packet::Disconnect(Disconnect {
            reason: 0,
            properties: Properties::default(),
        }))
        .await;
        assert!(sub.closed_within(Duration::from_secs(2)).await);
        let snap = ep.counters().snapshot();
        assert_eq!(snap.publishes_in, 3);
        assert_eq!(snap.publishes_out, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos2_publish_disconnects_like_aws() {
    let ep = endpoint(|_| {}).await;
    let mut m = session(ep.addr(ListenerMode::Mqtt).unwrap(), Protocol::V5).await;
    assert_eq!(
        m.connect(connect(Protocol::V5, "q2")).await.unwrap().code,
        0
    );
    m.send(&Packet::Publish(Publish {
        dup: false,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic: "t".into(),
        packet_id: Some(1),
        properties: Properties::default(),
        payload: Bytes::new(),
    }))
    .await;
    assert!(
        matches!(m.recv().await, Some(Packet::Disconnect(d)) if d.reason == codes::V5_QOS_NOT_SUPPORTED)
    );
    assert!(m.closed_within(Duration::from_secs(2)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_connection_with_same_id_takes_over() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let mut old = session(addr, Protocol::V5).await;
    assert_eq!(
        old.connect(connect(Protocol::V5, "dup-id"))
            .await
            .unwrap()
            .code,
        0
    );
    let mut new = session(addr, Protocol::V5).await;
    assert_eq!(
        new.connect(connect(Protocol::V5, "dup-id"))
            .await
            .unwrap()
            .code,
        0
    );
    assert!(
        matches!(old.recv().await, Some(Packet::Disconnect(d)) if d.reason == codes::V5_SESSION_TAKEN_OVER)
    );
    assert!(old.closed_within(Duration::from_secs(2)).await);
    new.send(&Packet::PingReq).await;
    assert_eq!(new.recv().await, Some(Packet::PingResp));
    assert_eq!(ep.counters().snapshot().taken_over, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_enforced_at_one_and_a_half_times() {
    let ep = endpoint(|c| c.mqtt.min_keep_alive = 1).await;
    let mut m = session(ep.addr(ListenerMode::Mqtt).unwrap(), Protocol::V5).await;
    let started = std::time::Instant::now();
    assert_eq!(
        m.connect(Connect {
            keep_alive: 1,
            ..connect(Protocol::V5, "quiet")
        })
        .await
        .unwrap()
        .code,
        0
    );
    // Silent for 1.5 s: the server gives up.
    assert!(
        matches!(m.recv_within(Duration::from_secs(3)).await, Some(Packet::Disconnect(d)) if d.reason == codes::V5_KEEP_ALIVE_TIMEOUT)
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1450) && waited < Duration::from_millis(3500),
        "{waited:?}"
    );
    assert_eq!(ep.counters().snapshot().keepalive_timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_closes_only_that_connection() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let mut good = session(addr, Protocol::V311).await;
    assert_eq!(
        good.connect(connect(Protocol::V311, "good"))
            .await
            .unwrap()
            .code,
        0
    );

    // Garbage instead of CONNECT.
    let mut bad = session(addr, Protocol::V311).await;
    bad.send_raw(&[0xff; 64]).await;
    assert!(bad.closed_within(Duration::from_secs(2)).await);
    // A 5.0 CONNECT with a lying length: 5.0 gets CONNACK 0x81 before the close.
    let raw = RawPacket::from_packet(
        &Packet::Connect(connect(Protocol::V5, "liar")),
        Protocol::V5,
    )
    .with_length_delta(-3)
    .to_bytes();
    let mut liar = session(addr, Protocol::V5).await;
    liar.send_raw(&raw).await;
    assert!(matches!(liar.recv().await, Some(Packet::ConnAck(a)) if a.code == codes::V5_MALFORMED));
    // A remaining length far over the cap.
    let mut huge = session(addr, Protocol::V311).await;
    huge.send_raw(&[0x30, 0xff, 0xff, 0xff, 0x7f]).await;
    assert!(huge.closed_within(Duration::from_secs(2)).await);
    // A packet before CONNECT.
    let mut early = session(addr, Protocol::V311).await;
    early.send(&Packet::PingReq).await;
    assert!(early.closed_within(Duration::from_secs(2)).await);

    good.send(&Packet::PingReq).await;
    assert_eq!(
        good.recv().await,
        Some(Packet::PingResp),
        "other connections unaffected"
    );
    assert!(ep.counters().snapshot().protocol_errors >= 4);
}
