//! The endpoint's TLS side over real loopback sockets: SNI routing to the
//! right chain, ECC for ECDSA-only clients, unknown names, mutual TLS,
//! security policies, ALPN, tls-only mode, resumption and SO_REUSEPORT.

use crate::common;

use chainstorm::endpoint::{ListenerMode, MtlsMode, SecurityPolicy};
use chainstorm::pki::{describe_cert, Role};
use common::client::{rustls_error, tls, Opts};
use common::{ats_host, endpoint, legacy_host, pki};

fn roots(rs: &[Role]) -> Opts {
    Opts {
        roots: rs.iter().map(|r| pki().cert(*r).clone()).collect(),
        ..Opts::default()
    }
}

fn presented(s: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<String> {
    s.get_ref()
        .1
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|c| describe_cert(c.as_ref()).unwrap().issuer)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_routes_to_the_aws_chains() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();

    let s = tls(addr, &legacy_host("eu-west-1"), &roots(&[Role::LegacyRoot]))
        .await
        .unwrap();
    let issuers = presented(&s);
    assert_eq!(issuers.len(), 2);
    assert!(issuers[0].contains("Symantec Class 3 Secure Server CA - G4"));

    let s = tls(addr, &ats_host("us-east-1"), &roots(&[Role::AtsRsaRoot]))
        .await
        .unwrap();
    let issuers = presented(&s);
    // Leaf, M01, and Amazon Root CA 1 cross-signed by Starfield.
    assert_eq!(issuers.len(), 3);
    assert!(issuers[0].contains("Amazon RSA 2048 M01"));
    assert!(issuers[2].contains("Starfield Services Root Certificate Authority - G2"));

    // A Starfield-only device validates the same chain through the cross-sign.
    tls(
        addr,
        &ats_host("ap-south-1"),
        &roots(&[Role::StarfieldRoot]),
    )
    .await
    .unwrap();

    // An ECDSA-only client gets the ECC chain.
    let o = Opts {
        ecdsa_only: true,
        ..roots(&[Role::AtsEccRoot])
    };
    let s = tls(addr, &ats_host("us-east-1"), &o).await.unwrap();
    assert!(presented(&s)[0].contains("Amazon ECDSA 256 M01"));

    let c = ep.counters();
    assert!(common::eventually(|| c.snapshot().handshakes_total() == 4).await);
    let snap = c.snapshot();
    assert_eq!(snap.handshakes.get("legacy/tls1.3"), Some(&1));
    assert_eq!(snap.handshakes.get("ats-rsa-xsign/tls1.3"), Some(&2));
    assert_eq!(snap.handshakes.get("ats-ecc/tls1.3"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecc_preference_serves_ecc_to_clients_offering_both() {
    let ep =
        endpoint(|c| c.settings.key_preference = chainstorm::endpoint::KeyPreference::PreferEcc)
            .await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let s = tls(addr, &ats_host("us-east-1"), &roots(&[Role::AtsEccRoot]))
        .await
        .unwrap();
    assert!(presented(&s)[0].contains("Amazon ECDSA 256 M01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_refused_like_unknown_endpoints() {
    let ep = endpoint(|c| c.account_prefix = Some("a1b2c3d4e5f6g7".into())).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    for name in [
        legacy_host("ap-south-1"), // legacy name in an ATS-only region
        "a1b2c3d4e5f6g7-ats.iot.mars-1.amazonaws.com".to_string(),
        "otheraccount-ats.iot.us-east-1.amazonaws.com".to_string(),
        "example.com".to_string(),
    ] {
        let e = tls(addr, &name, &roots(&[Role::LegacyRoot, Role::AtsRsaRoot]))
            .await
            .unwrap_err();
        assert_eq!(
            rustls_error(&e),
            Some(&rustls::Error::AlertReceived(
                rustls::AlertDescription::UnrecognisedName
            )),
            "{name}: {e}"
        );
    }
    assert_eq!(ep.counters().snapshot().unknown_name, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_rejection_is_counted_as_alert_received() {
    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    // A legacy-only device against the ATS endpoint: unknown issuer.
    let e = tls(addr, &ats_host("us-east-1"), &roots(&[Role::LegacyRoot]))
        .await
        .unwrap_err();
    assert!(matches!(
        rustls_error(&e),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    ));
    let c = ep.counters();
    assert!(common::eventually(|| c.snapshot().alerts_received.get("UnknownCA") == Some(&1)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_required_and_optional() {
    let ep = endpoint(|c| c.settings.mtls = MtlsMode::Required).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let host = ats_host("us-east-1");
    // Without a client certificate the TLS 1.3 handshake fails when the
    // server reads the (empty) client Certificate; the client sees it on
    // its first read.
    let r = tls(addr, &host, &roots(&[Role::AtsRsaRoot])).await;
    if let Ok(s) = r {
        let mut m = common::client::Mqtt::new(s, chainstorm::mqtt::Protocol::V311);
        assert!(m
            .connect(chainstorm::mqtt::Connect::new(
                chainstorm::mqtt::Protocol::V311,
                "nocert",
                60
            ))
            .await
            .is_none());
    }
    let id = pki().device_ca().mint("thing-42").unwrap();
    let o = Opts {
        client_cert: Some((vec![id.cert.clone()], id.key.clone_key())),
        ..roots(&[Role::AtsRsaRoot])
    };
    let s = tls(addr, &host, &o).await.unwrap();
    let mut m = common::client::Mqtt::new(s, chainstorm::mqtt::Protocol::V311);
    let ack = m
        .connect(chainstorm::mqtt::Connect::new(
            chainstorm::mqtt::Protocol::V311,
            "thing-42",
            60,
        ))
        .await;
    assert_eq!(ack.map(|a| a.code), Some(0));
    let c = ep.counters();
    assert!(common::eventually(|| c.snapshot().handshake_failed >= 1).await);

    // The certificate's CN is the device identity: with the AWS-style
    // policy, another client id is not authorized.
    let ep2 = endpoint(|c| {
        c.settings.mtls = MtlsMode::Required;
        c.mqtt.client_id_must_match_cn = true;
    })
    .await;
    let addr2 = ep2.addr(ListenerMode::Mqtt).unwrap();
    for (id, want) in [("thing-42", 0u8), ("someone-else", 5)] {
        let s = tls(addr2, &host, &o).await.unwrap();
        let mut m = common::client::Mqtt::new(s, chainstorm::mqtt::Protocol::V311);
        let ack = m
            .connect(chainstorm::mqtt::Connect::new(
                chainstorm::mqtt::Protocol::V311,
                id,
                60,
            ))
            .await;
        assert_eq!(ack.map(|a| a.code), Some(want), "{id}");
    }

    // Optional: both work.
    let ep = endpoint(|c| c.settings.mtls = MtlsMode::Optional).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    tls(addr, &host, &roots(&[Role::AtsRsaRoot])).await.unwrap();
    tls(addr, &host, &o).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_policies_pick_versions() {
    let host = ats_host("us-east-1");
    let tls12 = Opts {
        tls12_only: true,
        ..roots(&[Role::AtsRsaRoot])
    };
    let ep = endpoint(|c| c.settings.security_policy = SecurityPolicy::Tls13Only).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    assert!(tls(addr, &host, &tls12).await.is_err());
    tls(addr, &host, &roots(&[Role::AtsRsaRoot])).await.unwrap();

    let ep = endpoint(|_| {}).await;
    let addr = ep.addr(ListenerMode::Mqtt).unwrap();
    let s = tls(addr, &host, &tls12).await.unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(
        ep.counters()
            .snapshot()
            .handshakes
            .get("ats-rsa-xsign/tls1.2"),
        Some(&1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_listener_and_tls_only_listener() {
    use chainstorm::mqtt::{Connect, Protocol};
    let ep = endpoint(|_| {}).await;
    let host = ats_host("us-east-1");
    let alpn = ep.addr(ListenerMode::MqttAlpn).unwrap();
    let with = Opts {
        alpn: Some(b"x-amzn-mqtt-ca".to_vec()),
        ..roots(&[Role::AtsRsaRoot])
    };
    let s = tls(alpn, &host, &with).await.unwrap();
    let mut m = common::client::Mqtt::new(s, Protocol::V311);
    assert_eq!(
        m.connect(Connect::new(Protocol::V311, "alpn-dev", 60))
            .await
            .map(|a| a.code),
        Some(0)
    );

    let s = tls(alpn, &host, &roots(&[Role::AtsRsaRoot])).await.unwrap();
    let mut m = common::client::Mqtt::new(s, Protocol::V311);
    assert!(m
        .connect(Connect::new(Protocol::V311, "no-alpn", 60))
        .await
        .is_none());
    assert_eq!(ep.counters().snapshot().alpn_rejected, 1);

    let only = ep.addr(ListenerMode::TlsOnly).unwrap();
    let s = tls(only, &host, &roots(&[Role::AtsRsaRoot])).await.unwrap();
    let mut m = common::client::Mqtt::new(s, Protocol::V311);
    assert!(m.closed_within(std::time::Duration::from_secs(2)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumption_is_off_unless_enabled() {
    let host = ats_host("us-east-1");
    for enabled in [false, true] {
        let ep = endpoint(|c| c.settings.resumption = enabled).await;
        let addr = ep.addr(ListenerMode::TlsOnly).unwrap();
        let store: std::sync::Arc<dyn rustls::client::ClientSessionStore> =
            std::sync::Arc::new(rustls::client::ClientSessionMemoryCache::new(8));
        let o = Opts {
            resumption: Some(store),
            ..roots(&[Role::AtsRsaRoot])
        };
        let cfg = std::sync::Arc::new(common::client::client_config(&o));
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let s = common::client::tls_with(addr, &host, cfg.clone())
                .await
                .unwrap();
            kinds.push(s.get_ref().1.handshake_kind());
            let mut m = common::client::Mqtt::new(s, chainstorm::mqtt::Protocol::V311);
            // Read to the close so the client takes in any ticket.
            m.closed_within(std::time::Duration::from_secs(2)).await;
            assert_eq!(
                m.stream.get_ref().1.tls13_tickets_received(),
                u32::from(enabled)
            );
        }
        let want = if enabled {
            rustls::HandshakeKind::Resumed
        } else {
            rustls::HandshakeKind::Full
        };
        assert_eq!(kinds[1], Some(want));
        assert_eq!(
            ep.counters().snapshot().resumed,
            u64::from(enabled),
            "resumption {enabled}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_endpoints_share_a_port_with_reuseport() {
    let first = endpoint(|c| c.reuse_port = true).await;
    let port = first.addr(ListenerMode::Mqtt).unwrap();
    let second = endpoint(|c| {
        c.reuse_port = true;
        c.listeners = vec![chainstorm::endpoint::ListenerConfig {
            addr: port,
            mode: ListenerMode::Mqtt,
        }]
    })
    .await;
    assert_eq!(second.addr(ListenerMode::Mqtt), Some(port));
    for _ in 0..20 {
        tls(port, &ats_host("us-east-1"), &roots(&[Role::AtsRsaRoot]))
            .await
            .unwrap();
    }
    let (c1, c2) = (first.counters(), second.counters());
    let total = || c1.snapshot().handshakes_total() + c2.snapshot().handshakes_total();
    assert!(common::eventually(|| total() == 20).await, "{}", total());
}
