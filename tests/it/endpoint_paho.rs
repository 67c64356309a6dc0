//! The endpoint's MQTT 5 (and 3.1.1) side as Eclipse Paho sees it: every
//! spec item of the AWS-fidelity work, exercised over TLS with SNI by
//! `data/paho_checks.py` (paho-mqtt for what Paho can send, a raw Python
//! TLS socket for the violations it refuses to send).

use crate::common;

use chainstorm::endpoint::ListenerMode;
use chainstorm::pki::Role;
use serde_json::{json, Value};

async fn run_checks(retain_on: bool) -> Value {
    let ep = common::endpoint(|c| c.mqtt.retain_available = retain_on).await;
    let port = ep.addr(ListenerMode::Mqtt).unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("amazon-root-ca-1.pem");
    let der = common::pki().cert(Role::AtsRsaRoot).as_ref().to_vec();
    std::fs::write(&ca, pem::encode(&pem::Pem::new("CERTIFICATE", der))).unwrap();
    let script = common::data("paho_checks.py");
    let sni = common::ats_host("us-east-1");
    let out = tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new("python3");
        c.arg(script).arg(port.to_string()).arg(&ca).arg(sni);
        if retain_on {
            c.arg("retain");
        }
        c.output().expect("python3 runs")
    })
    .await
    .unwrap();
    common::assert_ok(&out);
    drop(ep);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_sees_mqtt5_as_the_spec_requires() {
    let r = run_checks(false).await;
    let is = |k: &str, want: Value| assert_eq!(r[k], want, "{k}: {}", r[k]);
    // CONNACK says what the broker does not offer, and caps the expiry.
    is(
        "connack_v5",
        json!({"MaximumQoS": 1, "RetainAvailable": 0, "WildcardSubscriptionAvailable": 1,
               "SubscriptionIdentifierAvailable": 0, "SharedSubscriptionAvailable": 0,
               "TopicAliasMaximum": null, "SessionExpiryInterval": 3600,
               "MaximumPacketSize": 131072}),
    );
    // Delivered PUBLISHes keep their properties.
    let p = &r["properties_forwarded"];
    assert_eq!(p["UserProperty"], json!([["k", "v"], ["k2", "v2"]]), "{p}");
    assert_eq!(p["PayloadFormatIndicator"], 1);
    assert_eq!(p["ContentType"], "text/plain");
    assert_eq!(p["ResponseTopic"], "zoo/reply");
    assert_eq!(p["CorrelationData"], "0102");
    let left = p["MessageExpiryInterval"].as_u64().unwrap();
    assert!((118..=120).contains(&left), "remaining expiry {left}");
    is("v311_subscriber_of_v5_publish", json!(["to-311"]));
    // Honoured: No Local, the client's Receive Maximum and Maximum Packet Size.
    is("no_local", json!({"own": 0, "other": ["other"]}));
    is(
        "receive_maximum",
        json!({"before_ack": 2, "after_one_ack": 1, "rest": 2}),
    );
    is("maximum_packet_size", json!([50, 60]));
    // Wills: delayed, cancelled by a reconnect, sent on DISCONNECT 0x04.
    let w = &r["will_delay"];
    assert_eq!(
        (w["within_1s"].as_u64(), w["by_4s"].as_u64()),
        (Some(0), Some(1)),
        "{w}"
    );
    is("will_delay_cancelled_by_reconnect", json!(0));
    is("disconnect_with_will", json!({"0x4": 1, "0x0": 0}));
    is("will_v311_on_drop", json!(1));
    // Refused with the spec's reason codes.
    is("topic_alias_refused", json!(0x94));
    is("shared_subscription_refused", json!([0x9E]));
    is("subscription_identifier_refused", json!(0xA1));
    is("retain_refused_v5", json!(0x9A));
    let refused_connect = json!({"connack": 0x82, "closed": true});
    is("connect_duplicate_property", refused_connect.clone());
    is("connect_receive_maximum_0", refused_connect.clone());
    is("connect_maximum_packet_size_0", refused_connect);
    is(
        "publish_empty_topic_no_alias",
        json!({"disconnect": 0x82, "closed": true}),
    );
    let closed = json!({"disconnect": null, "closed": true});
    for k in ["subscribe_packet_id_0", "unsubscribe_packet_id_0"] {
        is(
            k,
            json!({"v5": {"disconnect": 0x82, "closed": true}, "v311": closed}),
        );
    }
    for k in ["subscribe_no_filter", "unsubscribe_no_filter"] {
        is(
            k,
            json!({"v5": {"disconnect": 0x81, "closed": true}, "v311": closed}),
        );
    }
    // Persistent sessions, both versions: session present, subscriptions
    // and QoS 1 (not QoS 0) kept; clean start discards; expiry ends them.
    let kept = json!({"first_present": false, "present": true,
                      "messages": ["q1-0", "q1-1", "q1-2"],
                      "clean_present": false, "clean_messages": 0});
    is("persistent_session_v5", kept.clone());
    is("persistent_session_v311", kept);
    is("session_expires", json!(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_when_switched_on() {
    let r = run_checks(true).await;
    assert_eq!(
        r["retained_delivered_on_subscribe"],
        json!({"retain_available": 1, "messages": [["zoo/retained", "kept", true]]}),
        "{r}"
    );
}
