//! The CONNECT phase: read the CONNECT (or refuse what comes first),
//! validate it, apply faults and connect-rate limits in the order a real
//! broker meets them, grant keep alive and session expiry, register with
//! the broker and send CONNACK.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::{sleep, timeout_at, Instant};

use super::conn::{connack, Conn, ReadEnd};
use super::SessionCtx;
use crate::endpoint::config::MqttLimits;
use crate::mqtt::{self, codes, prop_id, Connect, Packet, PropValue, Properties, Protocol};

/// The CONNACK code for a CONNECT, before faults and limits.
fn validate(c: &Connect, limits: &MqttLimits) -> Result<(), Option<(u8, u8)>> {
    if c.protocol_name != "MQTT" || Protocol::from_level(c.level).is_none() {
        return Err(Some((
            codes::V3_UNACCEPTABLE_PROTOCOL,
            codes::V5_UNSUPPORTED_PROTOCOL,
        )));
    }
    if c.reserved_flag {
        // 3.1.1 3.1.2.3: disconnect without CONNACK; 5.0: malformed packet.
        return if c.level == 5 {
            Err(Some((0, codes::V5_MALFORMED)))
        } else {
            Err(None)
        };
    }
    if c.client_id.len() > limits.max_client_id || (c.client_id.is_empty() && !c.clean_start) {
        return Err(Some((
            codes::V3_IDENTIFIER_REJECTED,
            codes::V5_CLIENT_ID_INVALID,
        )));
    }
    if c.keep_alive > limits.max_keep_alive {
        return Err(Some((
            limits.keep_alive_code_v311,
            limits.keep_alive_code_v5,
        )));
    }
    if c.will.as_ref().is_some_and(|w| w.qos > 1) {
        return Err(Some((
            codes::V3_NOT_AUTHORIZED,
            codes::V5_QOS_NOT_SUPPORTED,
        )));
    }
    if c.level == 5 {
        // MQTT 5.0 3.1.2.11: a property twice, Receive Maximum 0 or
        // Maximum Packet Size 0 is a Protocol Error.
        let p = &c.properties;
        let will_repeats = c.will.as_ref().and_then(|w| w.properties.repeated());
        if p.repeated().is_some()
            || will_repeats.is_some()
            || p.u16(prop_id::RECEIVE_MAXIMUM) == Some(0)
            || p.u32(prop_id::MAX_PACKET_SIZE) == Some(0)
        {
            return Err(Some((0, codes::V5_PROTOCOL_ERROR)));
        }
    }
    Ok(())
}

/// What the CONNECT phase settled.
pub(super) struct Accepted {
    pub(super) client_id: Arc<str>,
    pub(super) will: Option<mqtt::Will>,
    pub(super) keep_alive: u16,
    /// Granted session expiry (0: the session ends with the connection).
    pub(super) session_expiry: u32,
    /// The CONNECT asked for a session expiry of 0 (then DISCONNECT may
    /// not raise it).
    pub(super) expiry_was_zero: bool,
    /// The client's Receive Maximum: QoS 1 PUBLISHes in flight to it.
    pub(super) receive_max: u16,
    /// The client's Maximum Packet Size (bytes), if it set one.
    pub(super) client_max_packet: Option<u32>,
    /// This connection's number in the broker, and what it resumed.
    pub(super) resumed: crate::endpoint::broker::Resumed,
}

/// What a broker decides about a valid CONNECT.
enum Admission {
    /// Go on to CONNACK 0.
    Admit,
    /// CONNACK with this code, then close.
    Refuse(u8),
    /// Close without CONNACK (a 3.1.1 reserved flag).
    Drop,
}

/// Reads and answers the CONNECT. `None`: the connection is done.
pub(super) async fn accept_connect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &SessionCtx,
    kick: &Arc<Notify>,
) -> Option<Accepted> {
    let connect = read_connect(conn, ctx).await?;
    let v5 = connect.level == 5;
    conn.protocol = if v5 { Protocol::V5 } else { Protocol::V311 };
    let admission = admit(&connect, ctx, v5);
    if let Admission::Drop = admission {
        ctx.counters.protocol_errors.fetch_add(1, Relaxed);
        return None;
    }
    if let Some(d) = ctx.plan.connack_delay {
        sleep(d).await;
    }
    match admission {
        Admission::Admit | Admission::Drop => {}
        Admission::Refuse(code) => {
            ctx.counters.connack(code);
            let _ = conn.send(&connack(code, Properties::default())).await;
            return None;
        }
    }
    let grant = Grant::of(&connect, ctx, v5);
    register_and_ack(conn, ctx, kick, connect, grant).await
}

/// The first packet, which must be a CONNECT within the connect timeout;
/// a malformed 5.0 CONNECT is answered with CONNACK 0x81.
async fn read_connect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &SessionCtx,
) -> Option<Connect> {
    let counters = &ctx.counters;
    let deadline = Instant::now() + Duration::from_secs_f64(ctx.limits.connect_timeout_s);
    loop {
        match conn.buffered() {
            Ok(Some(Packet::Connect(c))) => return Some(c),
            Ok(Some(_)) => {
                // Anything before CONNECT is a protocol violation.
                counters.protocol_errors.fetch_add(1, Relaxed);
                return None;
            }
            Ok(None) => {}
            Err(ReadEnd::Malformed) => {
                counters.protocol_errors.fetch_add(1, Relaxed);
                if mqtt::decode_connect_level(&conn.buf) == Some(5) {
                    conn.protocol = Protocol::V5;
                    counters.connack(codes::V5_MALFORMED);
                    let _ = conn
                        .send(&connack(codes::V5_MALFORMED, Properties::default()))
                        .await;
                }
                return None;
            }
            Err(ReadEnd::Closed) => return None,
        }
        match timeout_at(deadline, conn.fill()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}

/// Validation, identity, faults and connect-rate limits, in the order a
/// real broker meets them; the first that refuses decides.
fn admit(connect: &Connect, ctx: &SessionCtx, v5: bool) -> Admission {
    let pick = |(c3, c5): (u8, u8)| Admission::Refuse(if v5 { c5 } else { c3 });
    let rate_exceeded = (
        codes::V3_SERVER_UNAVAILABLE,
        codes::V5_CONNECTION_RATE_EXCEEDED,
    );
    match validate(connect, &ctx.limits) {
        Ok(()) => {}
        Err(None) => return Admission::Drop,
        Err(Some(codes)) => return pick(codes),
    }
    if ctx.limits.client_id_must_match_cn
        && ctx.identity.as_deref() != Some(connect.client_id.as_str())
    {
        return pick((codes::V3_NOT_AUTHORIZED, codes::V5_NOT_AUTHORIZED));
    }
    if let Some(codes) = ctx.plan.connack_refusal {
        return pick(codes);
    }
    if ctx.account_limit.as_ref().is_some_and(|b| !b.try_take()) {
        return pick(rate_exceeded);
    }
    if ctx
        .client_limit
        .as_ref()
        .is_some_and(|l| !l.admit(&connect.client_id))
    {
        return pick(rate_exceeded);
    }
    Admission::Admit
}

/// What the CONNACK grants: the client id (assigned for an empty one),
/// keep alive, session expiry, and the 5.0 properties that say so.
struct Grant {
    client_id: String,
    keep_alive: u16,
    session_expiry: u32,
    /// The expiry the client asked for.
    asked: u32,
    properties: Properties,
}

impl Grant {
    fn of(connect: &Connect, ctx: &SessionCtx, v5: bool) -> Grant {
        let mut props = Properties::default();
        let client_id = if connect.client_id.is_empty() {
            let id = format!(
                "chainstorm-assigned-{}",
                ctx.assigned_seq.fetch_add(1, Relaxed)
            );
            if v5 {
                props.push(prop_id::ASSIGNED_CLIENT_ID, PropValue::Str(id.clone()));
            }
            id
        } else {
            connect.client_id.clone()
        };
        // Keep alive 0 means none to the spec; AWS applies its maximum instead,
        // so no connection lives forever in silence.
        let requested = connect.keep_alive;
        let keep_alive = match requested {
            0 => ctx.limits.max_keep_alive,
            k => k.max(ctx.limits.min_keep_alive),
        };
        if v5 && keep_alive != requested {
            props.push(prop_id::SERVER_KEEP_ALIVE, PropValue::U16(keep_alive));
        }
        // Session expiry: 3.1.1 clean session 0 is a persistent session for
        // the server's maximum (AWS: 1 hour); 5.0 asks, and gets at most that.
        let max_expiry = ctx.limits.max_session_expiry_s;
        let asked = if v5 {
            connect.properties.u32(prop_id::SESSION_EXPIRY).unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            max_expiry
        };
        let session_expiry = asked.min(max_expiry);
        if v5 {
            if session_expiry != asked {
                props.push(prop_id::SESSION_EXPIRY, PropValue::U32(session_expiry));
            }
            offer_capabilities(&mut props, &ctx.limits);
        }
        Grant {
            client_id,
            keep_alive,
            session_expiry,
            asked,
            properties: props,
        }
    }
}

/// What this broker does and does not offer (MQTT 5.0 3.2.2.3).
fn offer_capabilities(props: &mut Properties, limits: &MqttLimits) {
    props.push(prop_id::MAX_QOS, PropValue::Byte(1));
    props.push(
        prop_id::RETAIN_AVAILABLE,
        PropValue::Byte(u8::from(limits.retain_available)),
    );
    props.push(prop_id::MAX_PACKET_SIZE, PropValue::U32(limits.max_packet));
    props.push(prop_id::WILDCARD_SUB_AVAILABLE, PropValue::Byte(1));
    props.push(prop_id::SUB_ID_AVAILABLE, PropValue::Byte(0));
    props.push(prop_id::SHARED_SUB_AVAILABLE, PropValue::Byte(0));
    // Topic Alias Maximum absent: 0, no aliases accepted.
}

/// Takes the session in the broker (resuming a persistent one) and sends
/// CONNACK 0; a failed send gives the session back.
async fn register_and_ack<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &SessionCtx,
    kick: &Arc<Notify>,
    connect: Connect,
    grant: Grant,
) -> Option<Accepted> {
    let client_id: Arc<str> = Arc::from(grant.client_id);
    let resumed = ctx
        .broker
        .register(&client_id, kick.clone(), connect.clean_start);
    ctx.counters.connack(codes::V3_ACCEPTED);
    let ack = Packet::ConnAck(mqtt::ConnAck {
        session_present: resumed.present,
        code: codes::V3_ACCEPTED,
        properties: grant.properties,
    });
    if conn.send(&ack).await.is_err() {
        ctx.broker.unregister(
            &client_id,
            resumed.id,
            Duration::from_secs(u64::from(grant.session_expiry)),
            resumed.queued,
        );
        return None;
    }
    Some(Accepted {
        client_id,
        will: connect.will,
        keep_alive: grant.keep_alive,
        session_expiry: grant.session_expiry,
        expiry_was_zero: grant.asked == 0,
        receive_max: connect
            .properties
            .u16(prop_id::RECEIVE_MAXIMUM)
            .unwrap_or(u16::MAX),
        client_max_packet: connect.properties.u32(prop_id::MAX_PACKET_SIZE),
        resumed,
    })
}
