//! One MQTT session over an established TLS stream: CONNECT validation and
//! CONNACK, then PINGREQ, SUBSCRIBE, PUBLISH, UNSUBSCRIBE and DISCONNECT until
//! the client leaves, keeps silent past 1.5 × keep alive, is taken over, or
//! the endpoint shuts down. One task, one buffer: the idle cost per
//! connection stays small.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{sleep, timeout_at, Instant};

use super::broker::{Broker, Outbound};
use super::config::MqttLimits;
use super::counters::Counters;
use super::faults::{ConnPlan, PerClientLimit, TokenBucket};
use crate::mqtt::{self, codes, prop_id, Connect, Packet, PropValue, Properties, Protocol, QoS};

/// What a session needs from the endpoint.
pub(crate) struct SessionCtx {
    pub broker: Arc<Broker>,
    pub counters: Arc<Counters>,
    pub limits: MqttLimits,
    pub plan: ConnPlan,
    pub account_limit: Option<Arc<TokenBucket>>,
    pub client_limit: Option<Arc<PerClientLimit>>,
    pub shutdown: watch::Receiver<bool>,
    /// Process-wide counter for assigned client ids.
    pub assigned_seq: Arc<std::sync::atomic::AtomicU64>,
    /// The device identity: CN of the client certificate, with mutual TLS.
    pub identity: Option<String>,
}

/// Why reading a packet ended.
enum ReadEnd {
    Closed,
    Malformed,
}

struct Conn<S> {
    stream: S,
    buf: BytesMut,
    out: BytesMut,
    protocol: Protocol,
    max_packet: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// The next packet already buffered, if complete.
    fn buffered(&mut self) -> Result<Option<Packet>, ReadEnd> {
        match mqtt::decode(&self.buf, self.protocol, self.max_packet) {
            Ok(Some(d)) => {
                let _ = self.buf.split_to(d.len);
                Ok(Some(d.packet))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(ReadEnd::Malformed),
        }
    }

    async fn fill(&mut self) -> Result<(), ReadEnd> {
        if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(1024);
        }
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => Err(ReadEnd::Closed),
            Ok(_) => Ok(()),
        }
    }

    async fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        self.out.clear();
        mqtt::encode(p, self.protocol, &mut self.out);
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await
    }

    async fn close(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

fn connack(code: u8, properties: Properties) -> Packet {
    Packet::ConnAck(mqtt::ConnAck {
        session_present: false,
        code,
        properties,
    })
}

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
    Ok(())
}

/// What the CONNECT phase settled.
struct Accepted {
    client_id: String,
    will: Option<mqtt::Will>,
    keep_alive: u16,
}

/// Reads and answers the CONNECT. `None`: the connection is done.
async fn accept_connect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &SessionCtx,
) -> Option<Accepted> {
    let counters = &ctx.counters;
    let deadline = Instant::now() + Duration::from_secs_f64(ctx.limits.connect_timeout_s);
    let connect = loop {
        match conn.buffered() {
            Ok(Some(Packet::Connect(c))) => break c,
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
    };
    let v5 = connect.level == 5;
    conn.protocol = if v5 { Protocol::V5 } else { Protocol::V311 };
    let pick = |(c3, c5): (u8, u8)| if v5 { c5 } else { c3 };

    // Validation, faults, limits, in the order a real broker meets them.
    let mut refusal = match validate(&connect, &ctx.limits) {
        Ok(()) => None,
        Err(None) => {
            counters.protocol_errors.fetch_add(1, Relaxed);
            return None;
        }
        Err(Some(codes)) => Some(pick(codes)),
    };
    if refusal.is_none()
        && ctx.limits.client_id_must_match_cn
        && ctx.identity.as_deref() != Some(connect.client_id.as_str())
    {
        refusal = Some(pick((codes::V3_NOT_AUTHORIZED, codes::V5_NOT_AUTHORIZED)));
    }
    if refusal.is_none() {
        refusal = ctx.plan.connack_refusal.map(pick);
    }
    if refusal.is_none() && ctx.account_limit.as_ref().is_some_and(|b| !b.try_take()) {
        refusal = Some(pick((
            codes::V3_SERVER_UNAVAILABLE,
            codes::V5_CONNECTION_RATE_EXCEEDED,
        )));
    }
    if refusal.is_none()
        && ctx
            .client_limit
            .as_ref()
            .is_some_and(|l| !l.admit(&connect.client_id))
    {
        refusal = Some(pick((
            codes::V3_SERVER_UNAVAILABLE,
            codes::V5_CONNECTION_RATE_EXCEEDED,
        )));
    }
    if let Some(d) = ctx.plan.connack_delay {
        sleep(d).await;
    }
    if let Some(code) = refusal {
        counters.connack(code);
        let _ = conn.send(&connack(code, Properties::default())).await;
        return None;
    }

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
        connect.client_id
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
    if v5 {
        props.push(prop_id::MAX_QOS, PropValue::Byte(1));
        props.push(prop_id::SHARED_SUB_AVAILABLE, PropValue::Byte(0));
    }
    counters.connack(codes::V3_ACCEPTED);
    conn.send(&connack(codes::V3_ACCEPTED, props)).await.ok()?;
    Some(Accepted {
        client_id,
        will: connect.will,
        keep_alive,
    })
}

/// Waits for a delivery when the session has subscribed, forever otherwise.
async fn next_delivery(rx: &mut Option<mpsc::Receiver<Outbound>>) -> Option<Outbound> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Per-session state the packet handler may change.
pub(crate) struct Live {
    session: u64,
    /// Created on the first SUBSCRIBE: only subscribers pay for a channel.
    tx: Option<mpsc::Sender<Outbound>>,
    rx: Option<mpsc::Receiver<Outbound>>,
}

/// Runs a session to its end.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(stream: S, mut ctx: SessionCtx) {
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(256),
        out: BytesMut::new(),
        protocol: Protocol::V311,
        max_packet: ctx.limits.max_packet,
    };
    let counters = ctx.counters.clone();
    // Boxed so the long-lived session future does not carry the CONNECT
    // phase's state.
    let Some(accepted) = Box::pin(accept_connect(&mut conn, &ctx)).await else {
        return conn.close().await;
    };
    let kick = Arc::new(Notify::new());
    let mut live = Live {
        session: ctx.broker.register(&accepted.client_id, kick.clone()),
        tx: None,
        rx: None,
    };
    counters.sessions_open.fetch_add(1, Relaxed);
    let silence = Duration::from_millis(u64::from(accepted.keep_alive) * 1500);
    let mut idle_deadline = Instant::now() + silence;
    let mut next_pid: u16 = 0;
    let mut clean_exit = false;
    'session: loop {
        // Handle everything already buffered before waiting again.
        loop {
            match conn.buffered() {
                Ok(Some(p)) => {
                    idle_deadline = Instant::now() + silence;
                    match Box::pin(handle(&mut conn, p, &ctx, &mut live)).await {
                        Step::Continue => {}
                        Step::Disconnect => {
                            clean_exit = true;
                            break 'session;
                        }
                        Step::Violation => {
                            counters.protocol_errors.fetch_add(1, Relaxed);
                            break 'session;
                        }
                    }
                }
                Ok(None) => break,
                Err(ReadEnd::Malformed) => {
                    counters.protocol_errors.fetch_add(1, Relaxed);
                    send_disconnect(&mut conn, codes::V5_MALFORMED).await;
                    break 'session;
                }
                Err(ReadEnd::Closed) => break 'session,
            }
        }
        tokio::select! {
            r = conn.fill() => if r.is_err() { break 'session },
            msg = next_delivery(&mut live.rx) => match msg {
                Some(Outbound::Deliver { topic, payload, qos }) => {
                    let packet_id = (qos != QoS::AtMostOnce).then(|| {
                        next_pid = next_pid.wrapping_add(1).max(1);
                        next_pid
                    });
                    let p = Packet::Publish(mqtt::Publish {
                        dup: false,
                        qos,
                        retain: false,
                        topic: topic.to_string(),
                        packet_id,
                        properties: Properties::default(),
                        payload,
                    });
                    if Box::pin(conn.send(&p)).await.is_err() { break 'session }
                }
                None => break 'session,
            },
            _ = kick.notified() => {
                counters.taken_over.fetch_add(1, Relaxed);
                send_disconnect(&mut conn, codes::V5_SESSION_TAKEN_OVER).await;
                break 'session;
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                counters.keepalive_timeouts.fetch_add(1, Relaxed);
                send_disconnect(&mut conn, codes::V5_KEEP_ALIVE_TIMEOUT).await;
                break 'session;
            }
            _ = ctx.shutdown.changed() => {
                // 0x8B: server shutting down.
                send_disconnect(&mut conn, 0x8B).await;
                break 'session;
            }
        }
    }
    if !clean_exit {
        if let Some(w) = &accepted.will {
            let qos = QoS::from_bits(w.qos).unwrap_or(QoS::AtMostOnce);
            ctx.broker.publish(&w.topic, w.payload.clone(), qos);
        }
    }
    ctx.broker.unregister(&accepted.client_id, live.session);
    counters.sessions_open.fetch_sub(1, Relaxed);
    conn.close().await;
}

/// 5.0 sessions get a DISCONNECT with a reason; 3.1.1 has none to send.
async fn send_disconnect<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>, reason: u8) {
    if conn.protocol == Protocol::V5 {
        let p = Packet::Disconnect(mqtt::Disconnect {
            reason,
            properties: Properties::default(),
        });
        let _ = conn.send(&p).await;
    }
}

enum Step {
    Continue,
    Disconnect,
    Violation,
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    p: Packet,
    ctx: &SessionCtx,
    live: &mut Live,
) -> Step {
    let session = live.session;
    let v5 = conn.protocol == Protocol::V5;
    let sent = match p {
        Packet::PingReq => conn.send(&Packet::PingResp).await,
        Packet::Publish(p) => {
            ctx.counters.publishes_in.fetch_add(1, Relaxed);
            if p.qos == QoS::ExactlyOnce {
                // AWS IoT does not support QoS 2 and disconnects.
                send_disconnect(conn, codes::V5_QOS_NOT_SUPPORTED).await;
                return Step::Violation;
            }
            ctx.broker.publish(&p.topic, p.payload.clone(), p.qos);
            match p.packet_id {
                Some(packet_id) => {
                    let ack = Packet::PubAck(mqtt::PubAck {
                        packet_id,
                        reason: 0,
                        properties: Properties::default(),
                    });
                    conn.send(&ack).await
                }
                None => Ok(()),
            }
        }
        Packet::PubAck(_) => Ok(()),
        Packet::Subscribe(s) => {
            let mut codes_out = Vec::with_capacity(s.filters.len());
            for f in &s.filters {
                let qos = QoS::from_bits(f.options & 0x03);
                let code = match qos {
                    _ if !mqtt::topic::valid_filter(&f.filter) => {
                        if v5 {
                            0x8F
                        } else {
                            codes::SUBACK_FAILURE
                        }
                    }
                    Some(q @ (QoS::AtMostOnce | QoS::AtLeastOnce)) => {
                        let tx = live.tx.get_or_insert_with(|| {
                            let (tx, rx) = mpsc::channel(16);
                            live.rx = Some(rx);
                            tx
                        });
                        ctx.broker.subscribe(session, &f.filter, q, tx);
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
            conn.send(&ack).await
        }
        Packet::Unsubscribe(u) => {
            let codes_out = u
                .filters
                .iter()
                .map(|f| {
                    if ctx.broker.unsubscribe(session, f) {
                        0x00
                    } else {
                        0x11
                    }
                })
                .collect();
            let ack = Packet::UnsubAck(mqtt::UnsubAck {
                packet_id: u.packet_id,
                properties: Properties::default(),
                codes: if v5 { codes_out } else { Vec::new() },
            });
            conn.send(&ack).await
        }
        Packet::Disconnect(_) => return Step::Disconnect,
        // A second CONNECT, or packets only a server sends.
        _ => {
            send_disconnect(conn, codes::V5_PROTOCOL_ERROR).await;
            return Step::Violation;
        }
    };
    if sent.is_err() {
        Step::Violation
    } else {
        Step::Continue
    }
}
