//! Fault injection, observed from real clients: the counts match the seeded
//! plan exactly, delays are applied, broken chains fail the way each broken
//! certificate should, the outage refuses connections, rate limits answer
//! with the AWS-style codes.

use crate::common;

use std::time::{Duration, Instant};

use chainstorm::endpoint::{ConnFault, ConnackRefusal, Delay, Faults, ListenerMode, Outage};
use chainstorm::metrics::VerifyCause;
use chainstorm::mqtt::{Connect, Protocol};
use chainstorm::pki::{ChainKind, Role};
use chainstorm::trust::VerifyFailure;
use common::client::{rustls_error, tls, Mqtt, Opts};
use common::{ats_host, endpoint, pki};

fn dual() -> Opts {
    Opts {
        roots: [
            Role::LegacyRoot,
            Role::AtsRsaRoot,
            Role::AtsEccRoot,
            Role::StarfieldRoot,
        ]
        .iter()
        .map(|r| pki().cert(*r).clone())
        .collect(),
        ..Opts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_reset_stall_counts_match_the_seeded_plan() {
    let faults = Faults {
        seed: 42,
        refuse_rate: 0.1,
        reset_rate: 0.1,
        stall_rate: 0.05,
        ..Faults::default()
    };
    let n = 200u64;
    let expect = |k| (0..n).filter(|i| faults.plan(0, *i).fault == k).count() as u64;
    let f2 = faults.clone();
    let ep = endpoint(move |c| c.settings.faults = f2).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let (mut ok, mut failed, mut hung) = (0u64, 0u64, 0u64);
    // Sequential, so connection i is the i-th accepted and gets plan(i).
    for _ in 0..n {
        match tokio::time::timeout(
            Duration::from_millis(500),
            tls(addr, &ats_host("us-east-1"), &dual()),
        )
        .await
        {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(_)) => failed += 1,
            Err(_) => hung += 1,
        }
    }
    let snap = ep.counters().snapshot();
    assert_eq!(snap.refused, expect(ConnFault::Refuse));
    assert_eq!(snap.reset, expect(ConnFault::Reset));
    assert_eq!(snap.stalled, expect(ConnFault::Stall));
    assert_eq!(
        hung,
        expect(ConnFault::Stall),
        "stalled connections hang the client"
    );
    assert_eq!(failed, expect(ConnFault::Refuse) + expect(ConnFault::Reset));
    assert_eq!(ok, expect(ConnFault::None));
    // And the realised rates are near the configured ones (binomial, n=200).
    assert!((snap.refused as f64 / n as f64 - 0.1).abs() < 0.07);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_connack_delays_are_applied() {
    let ep = endpoint(|c| {
        c.settings.faults.handshake_delay = Some(Delay::Fixed { ms: 150.0 });
        c.settings.faults.connack_delay = Some(Delay::Fixed { ms: 100.0 });
    })
    .await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let t = Instant::now();
    let s = tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap();
    let hs = t.elapsed();
    assert!(
        hs >= Duration::from_millis(150) && hs < Duration::from_millis(1500),
        "{hs:?}"
    );
    let mut m = Mqtt::new(s, Protocol::V311);
    let t = Instant::now();
    assert_eq!(
        m.connect(Connect::new(Protocol::V311, "slow", 60))
            .await
            .unwrap()
            .code,
        0
    );
    let ca = t.elapsed();
    assert!(
        ca >= Duration::from_millis(100) && ca < Duration::from_millis(1500),
        "{ca:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connack_refusals_use_the_chosen_codes() {
    let refusal = ConnackRefusal {
        rate: 0.3,
        code_v311: 3,
        code_v5: 0x9F,
    };
    let ep = endpoint(move |c| {
        c.settings.faults.seed = 9;
        c.settings.faults.connack_refusal = Some(refusal);
    })
    .await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let n = 60u64;
    let mut refused = 0;
    for i in 0..n {
        let proto = if i % 2 == 0 {
            Protocol::V311
        } else {
            Protocol::V5
        };
        let mut m = Mqtt::new(
            tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap(),
            proto,
        );
        let code = m
            .connect(Connect::new(proto, &format!("d{i}"), 60))
            .await
            .unwrap()
            .code;
        match (code, proto) {
            (0, _) => {}
            (3, Protocol::V311) | (0x9F, Protocol::V5) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    let planned = (0..n).filter(|i| ep_plan(9, refusal, *i)).count();
    assert_eq!(refused, planned);
}

fn ep_plan(seed: u64, r: ConnackRefusal, i: u64) -> bool {
    Faults {
        seed,
        connack_refusal: Some(r),
        ..Faults::default()
    }
    .plan(0, i)
    .connack_refusal
    .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_chains_fail_as_their_certificates_should() {
    let cases = [
        (ChainKind::Expired, VerifyCause::Expired),
        (ChainKind::NotYetValid, VerifyCause::NotYetValid),
        (ChainKind::WrongName, VerifyCause::NameMismatch),
        (ChainKind::UnknownCa, VerifyCause::UnknownIssuer),
        (ChainKind::MissingIntermediate, VerifyCause::UnknownIssuer),
    ];
    for (kind, cause) in cases {
        let ep = endpoint(|c| c.settings.faults.broken_chain = Some(kind)).await;
        let addr = ep.addr(ListenerMode::Mqtt).unwrap();
        let e = tls(addr, &ats_host("us-east-1"), &dual())
            .await
            .unwrap_err();
        let f = VerifyFailure::from_rustls(rustls_error(&e).expect("TLS error"))
            .expect("certificate error");
        assert_eq!(f.cause, cause, "{}", kind.name());
        // The legacy name still gets the real legacy chain.
        tls(addr, &common::legacy_host("us-east-1"), &dual())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_refuses_connections_then_recovers() {
    let ep = endpoint(|c| {
        c.settings.faults.outage = Some(Outage {
            after_s: 0.5,
            duration_s: 1.5,
        })
    })
    .await;
    // The outage clock starts when the listener does (just before this).
    let t0 = tokio::time::Instant::now();
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap();
    tokio::time::sleep_until(t0 + Duration::from_millis(1100)).await;
    let e = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    tokio::time::sleep_until(t0 + Duration::from_millis(2600)).await;
    tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_rate_limits_answer_with_rate_exceeded() {
    let ep = endpoint(|c| {
        c.settings.faults.account_connect_rate = Some(4.0);
    })
    .await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let mut codes = Vec::new();
    for i in 0..10 {
        let mut m = Mqtt::new(
            tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap(),
            Protocol::V5,
        );
        codes.push(
            m.connect(Connect::new(Protocol::V5, &format!("acct-{i}"), 60))
                .await
                .unwrap()
                .code,
        );
    }
    let limited = codes.iter().filter(|c| **c == 0x9F).count();
    assert!(limited >= 4, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 0).count() + limited, 10);

    let ep = endpoint(|c| c.settings.faults.client_connect_rate = Some(1.0)).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let mut first = Mqtt::new(
        tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap(),
        Protocol::V311,
    );
    assert_eq!(
        first
            .connect(Connect::new(Protocol::V311, "same", 60))
            .await
            .unwrap()
            .code,
        0
    );
    let mut again = Mqtt::new(
        tls(addr, &ats_host("us-east-1"), &dual()).await.unwrap(),
        Protocol::V311,
    );
    assert_eq!(
        again
            .connect(Connect::new(Protocol::V311, "same", 60))
            .await
            .unwrap()
            .code,
        3
    );
}
