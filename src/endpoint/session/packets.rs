//! The packets of an open session, one function each: PINGREQ, PUBLISH,
//! PUBACK, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT; and deliveries to the client
//! under its Receive Maximum and Maximum Packet Size.

use std::sync::atomic::Ordering::Relaxed;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::conn::{refuse, Conn, Step};
use super::{message, Live, SessionCtx};
use crate::endpoint::broker::Outbound;
use crate::endpoint::counters::Counters;
use crate::mqtt::{self, codes, prop_id, Packet, PropValue, Properties, Protocol, QoS};

/// Answers one packet of an open session.
pub(super) async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    p: Packet,
    ctx: &SessionCtx,
    live: &mut Live,
) -> Step {
    let sent = match p {
        Packet::PingReq => conn.send(&Packet::PingResp).await,
        Packet::Publish(p) => match on_publish(conn, p, ctx, live) {
            Ok(ack) => match ack {
                Some(a) => conn.send(&a).await,
                None => Ok(()),
            },
            Err(reason) => return refuse(conn, reason).await,
        },
        Packet::PubAck(a) => on_puback(conn, a, ctx, live).await,
        Packet::Subscribe(s) => {
            if let Err(reason) = check_subscribe(&s) {
                return refuse(conn, reason).await;
            }
            on_subscribe(conn, s, ctx, live).await
        }
        Packet::Unsubscribe(u) => {
            if u.packet_id == 0 {
                return refuse(conn, codes::V5_PROTOCOL_ERROR).await;
            }
            let ack = on_unsubscribe(conn.protocol, &u, ctx, live);
            conn.send(&ack).await
        }
        Packet::Disconnect(d) => return on_disconnect(conn, &d, ctx, live).await,
        // A second CONNECT, or packets only a server sends.
        _ => return refuse(conn, codes::V5_PROTOCOL_ERROR).await,
    };
    if sent.is_err() {
        Step::Violation
    } else {
        Step::Continue
    }
}

/// A client's PUBLISH: refused (the reason) when AWS IoT would, else
/// handed to the broker (and retained when retain is available); the
/// PUBACK to send for QoS 1.
fn on_publish<S>(
    conn: &Conn<S>,
    p: mqtt::Publish,
    ctx: &SessionCtx,
    live: &Live,
) -> Result<Option<Packet>, u8> {
    ctx.counters.publishes_in.fetch_add(1, Relaxed);
    let v5 = conn.protocol == Protocol::V5;
    if p.qos == QoS::ExactlyOnce {
        // AWS IoT does not support QoS 2 and disconnects.
        return Err(codes::V5_QOS_NOT_SUPPORTED);
    }
    // Topic Alias Maximum is 0: any alias is invalid (3.3.2.3.4).
    if p.properties.get(prop_id::TOPIC_ALIAS).is_some() {
        return Err(codes::V5_TOPIC_ALIAS_INVALID);
    }
    // No topic and (necessarily) no alias: a Protocol Error.
    if p.topic.is_empty() || p.properties.repeated().is_some() {
        return Err(codes::V5_PROTOCOL_ERROR);
    }
    if p.retain && !ctx.limits.retain_available && v5 {
        return Err(codes::V5_RETAIN_NOT_SUPPORTED);
    }
    let retain = p.retain && ctx.limits.retain_available;
    let msg = message(
        &p.topic,
        p.payload.clone(),
        p.qos,
        retain,
        &p.properties,
        Some(live.client.clone()),
    );
    if retain {
        ctx.broker.retain(&msg);
    }
    ctx.broker.publish(msg);
    Ok(p.packet_id.map(|packet_id| {
        Packet::PubAck(mqtt::PubAck {
            packet_id,
            reason: 0,
            properties: Properties::default(),
        })
    }))
}

/// A PUBACK frees a slot under the client's Receive Maximum: send what waited.
async fn on_puback<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    a: mqtt::PubAck,
    ctx: &SessionCtx,
    live: &mut Live,
) -> std::io::Result<()> {
    live.inflight.remove(&a.packet_id);
    while live.inflight.len() < live.receive_max {
        let Some(next) = live.pending.pop_front() else {
            break;
        };
        deliver(conn, live, &ctx.counters, next).await?;
    }
    Ok(())
}

/// A SUBSCRIBE the broker refuses outright: packet id 0, or subscription
/// identifiers (CONNACK said Subscription Identifiers Available = 0).
fn check_subscribe(s: &mqtt::Subscribe) -> Result<(), u8> {
    if s.packet_id == 0 {
        return Err(codes::V5_PROTOCOL_ERROR);
    }
    if s.properties.get(prop_id::SUBSCRIPTION_ID).is_some() {
        return Err(codes::V5_SUB_IDS_NOT_SUPPORTED);
    }
    Ok(())
}

/// Subscribes each filter it can (QoS 0 and 1; no shared subscriptions,
/// no QoS 2, as AWS IoT), answers SUBACK, then sends the retained messages
/// the new subscriptions match.
async fn on_subscribe<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    s: mqtt::Subscribe,
    ctx: &SessionCtx,
    live: &mut Live,
) -> std::io::Result<()> {
    let v5 = conn.protocol == Protocol::V5;
    let failure = |code5: u8| if v5 { code5 } else { codes::SUBACK_FAILURE };
    let mut codes_out = Vec::with_capacity(s.filters.len());
    let mut retained = Vec::new();
    for f in &s.filters {
        let code = match QoS::from_bits(f.options & 0x03) {
            _ if f.filter.starts_with("$share/") => failure(codes::V5_SHARED_SUBS_NOT_SUPPORTED),
            _ if !mqtt::topic::valid_filter(&f.filter) => failure(codes::V5_TOPIC_FILTER_INVALID),
            Some(q @ (QoS::AtMostOnce | QoS::AtLeastOnce)) => {
                live.channel(&ctx.broker);
                // 3.1.1 has no subscription options beyond QoS.
                let options = if v5 { f.options } else { f.options & 0x03 };
                retained.extend(ctx.broker.subscribe(&live.client, &f.filter, q, options));
                q as u8
            }
            // QoS 2 refused, as AWS IoT does.
            _ => codes::SUBACK_FAILURE,
        };
        codes_out.push(code);
    }
    let ack = Packet::SubAck(mqtt::SubAck {
        packet_id: s.packet_id,
        properties: Properties::default(),
        codes: codes_out,
    });
    conn.send(&ack).await?;
    for out in retained {
        deliver(conn, live, &ctx.counters, out).await?;
    }
    Ok(())
}

/// Removes each filter; the UNSUBACK (reason codes in 5.0 only).
fn on_unsubscribe(
    protocol: Protocol,
    u: &mqtt::Unsubscribe,
    ctx: &SessionCtx,
    live: &Live,
) -> Packet {
    let codes_out = u
        .filters
        .iter()
        .map(|f| {
            if ctx.broker.unsubscribe(&live.client, f) {
                0x00
            } else {
                0x11
            }
        })
        .collect();
    Packet::UnsubAck(mqtt::UnsubAck {
        packet_id: u.packet_id,
        properties: Properties::default(),
        codes: if protocol == Protocol::V5 {
            codes_out
        } else {
            Vec::new()
        },
    })
}

/// A DISCONNECT: 0x04 keeps the will, any other reason drops it; a new
/// session expiry is taken unless the session began with 0 (3.14.2.2.2).
async fn on_disconnect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    d: &mqtt::Disconnect,
    ctx: &SessionCtx,
    live: &mut Live,
) -> Step {
    live.send_will = d.reason == codes::V5_DISCONNECT_WITH_WILL;
    if let Some(e) = d.properties.u32(prop_id::SESSION_EXPIRY) {
        if live.expiry_was_zero && e != 0 {
            live.send_will = true;
            return refuse(conn, codes::V5_PROTOCOL_ERROR).await;
        }
        live.session_expiry = e.min(ctx.limits.max_session_expiry_s);
    }
    Step::Disconnect
}

/// Sends one delivery, or holds it: QoS 1 beyond the client's Receive
/// Maximum waits; an expired message is dropped; one larger than the
/// client's Maximum Packet Size is dropped as if sent (MQTT 5.0 3.1.2.11).
pub(super) async fn deliver<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    live: &mut Live,
    counters: &Counters,
    out: Outbound,
) -> std::io::Result<()> {
    let qos1 = out.qos == QoS::AtLeastOnce;
    if qos1 && live.inflight.len() >= live.receive_max {
        live.pending.push_back(out);
        return Ok(());
    }
    let m = &out.msg;
    let mut properties = Properties::default();
    if conn.protocol == Protocol::V5 {
        properties = m.properties.clone();
        if let Some(at) = m.expires_at {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                counters.deliveries_dropped.fetch_add(1, Relaxed);
                return Ok(());
            }
            // The remaining lifetime, rounded up (MQTT 5.0 3.3.2.3.3).
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            properties.push(prop_id::MESSAGE_EXPIRY, PropValue::U32(secs as u32));
        }
    }
    let packet_id = qos1.then(|| {
        live.next_pid = live.next_pid.wrapping_add(1).max(1);
        while live.inflight.contains_key(&live.next_pid) {
            live.next_pid = live.next_pid.wrapping_add(1).max(1);
        }
        live.next_pid
    });
    let p = Packet::Publish(mqtt::Publish {
        dup: out.dup,
        qos: out.qos,
        retain: out.retain,
        topic: m.topic.to_string(),
        packet_id,
        properties,
        payload: m.payload.clone(),
    });
    let size = conn.encode(&p);
    if live
        .client_max_packet
        .is_some_and(|max| size > max as usize)
    {
        counters.deliveries_dropped.fetch_add(1, Relaxed);
        return Ok(());
    }
    if let Some(pid) = packet_id {
        live.inflight.insert(pid, out.clone());
    }
    Box::pin(conn.flush_out()).await
}
