//! One MQTT session over an established TLS stream: CONNECT validation and
//! CONNACK, then PINGREQ, SUBSCRIBE, PUBLISH, UNSUBSCRIBE and DISCONNECT until
//! the client leaves, keeps silent past 1.5 × keep alive, is taken over, or
//! the endpoint shuts down. MQTT 5 as the spec requires where AWS IoT
//! follows it: properties forwarded, the client's Receive Maximum and
//! Maximum Packet Size honoured, what the broker does not offer (topic
//! aliases, shared subscriptions, subscription identifiers, retain unless
//! switched on) refused with its reason code, wills delayed and sent on
//! DISCONNECT 0x04, persistent sessions kept for their expiry. One task, one
//! buffer: the idle cost per connection stays small.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{sleep, timeout_at, Instant};

use std::collections::{BTreeMap, VecDeque};

use super::broker::{Broker, Message, Outbound};
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
        self.encode(p);
        self.flush_out().await
    }

    /// Encodes `p` into the output buffer; its length is the packet size.
    fn encode(&mut self, p: &Packet) -> usize {
        self.out.clear();
        mqtt::encode(p, self.protocol, &mut self.out);
        self.out.len()
    }

    /// Writes what `encode` put in the output buffer.
    async fn flush_out(&mut self) -> std::io::Result<()> {
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

/// The properties a delivered PUBLISH carries over from the published one
/// (MQTT 5.0 3.3.2.3: the server forwards them unaltered).
fn forwarded(p: &Properties) -> Properties {
    Properties(
        p.0.iter()
            .filter(|x| {
                matches!(
                    x.id,
                    prop_id::PAYLOAD_FORMAT
                        | prop_id::CONTENT_TYPE
                        | prop_id::RESPONSE_TOPIC
                        | prop_id::CORRELATION_DATA
                        | prop_id::USER_PROPERTY
                )
            })
            .cloned()
            .collect(),
    )
}

/// A message as the broker keeps it, from a PUBLISH or a will.
fn message(
    topic: &str,
    payload: bytes::Bytes,
    qos: QoS,
    retain: bool,
    props: &Properties,
    origin: Option<Arc<str>>,
) -> Arc<Message> {
    Arc::new(Message {
        topic: Arc::from(topic),
        payload,
        qos,
        properties: forwarded(props),
        expires_at: props
            .u32(prop_id::MESSAGE_EXPIRY)
            .map(|s| Instant::now() + Duration::from_secs(u64::from(s))),
        origin,
        retain,
    })
}

/// What the CONNECT phase settled.
struct Accepted {
    client_id: Arc<str>,
    will: Option<mqtt::Will>,
    keep_alive: u16,
    /// Granted session expiry (0: the session ends with the connection).
    session_expiry: u32,
    /// The CONNECT asked for a session expiry of 0 (then DISCONNECT may
    /// not raise it).
    expiry_was_zero: bool,
    /// The client's Receive Maximum: QoS 1 PUBLISHes in flight to it.
    receive_max: u16,
    /// The client's Maximum Packet Size (bytes), if it set one.
    client_max_packet: Option<u32>,
    /// This connection's number in the broker, and what it resumed.
    resumed: super::broker::Resumed,
}

/// Reads and answers the CONNECT. `None`: the connection is done.
async fn accept_connect<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &SessionCtx,
    kick: &Arc<Notify>,
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
        // What this broker does and does not offer (MQTT 5.0 3.2.2.3).
        props.push(prop_id::MAX_QOS, PropValue::Byte(1));
        props.push(
            prop_id::RETAIN_AVAILABLE,
            PropValue::Byte(u8::from(ctx.limits.retain_available)),
        );
        props.push(
            prop_id::MAX_PACKET_SIZE,
            PropValue::U32(ctx.limits.max_packet),
        );
        props.push(prop_id::WILDCARD_SUB_AVAILABLE, PropValue::Byte(1));
        props.push(prop_id::SUB_ID_AVAILABLE, PropValue::Byte(0));
        props.push(prop_id::SHARED_SUB_AVAILABLE, PropValue::Byte(0));
        // Topic Alias Maximum absent: 0, no aliases accepted.
    }
    let client_id: Arc<str> = Arc::from(client_id);
    let resumed = ctx
        .broker
        .register(&client_id, kick.clone(), connect.clean_start);
    counters.connack(codes::V3_ACCEPTED);
    let ack = Packet::ConnAck(mqtt::ConnAck {
        session_present: resumed.present,
        code: codes::V3_ACCEPTED,
        properties: props,
    });
    if conn.send(&ack).await.is_err() {
        ctx.broker.unregister(
            &client_id,
            resumed.id,
            Duration::from_secs(u64::from(session_expiry)),
            resumed.queued,
        );
        return None;
    }
    Some(Accepted {
        client_id,
        will: connect.will,
        keep_alive,
        session_expiry,
        expiry_was_zero: asked == 0,
        receive_max: connect
            .properties
            .u16(prop_id::RECEIVE_MAXIMUM)
            .unwrap_or(u16::MAX),
        client_max_packet: connect.properties.u32(prop_id::MAX_PACKET_SIZE),
        resumed,
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
    client: Arc<str>,
    session: u64,
    /// Created on the first SUBSCRIBE (or at once for a resumed session
    /// with subscriptions): only subscribers pay for a channel.
    tx: Option<mpsc::Sender<Outbound>>,
    rx: Option<mpsc::Receiver<Outbound>>,
    /// QoS 1 PUBLISHes sent and not yet acknowledged, by packet id.
    inflight: BTreeMap<u16, Outbound>,
    /// Waiting for room under the client's Receive Maximum.
    pending: VecDeque<Outbound>,
    receive_max: usize,
    client_max_packet: Option<u32>,
    next_pid: u16,
    /// Granted session expiry, seconds (DISCONNECT may change it).
    session_expiry: u32,
    expiry_was_zero: bool,
    /// Publish the will at the end (cleared by a normal DISCONNECT).
    send_will: bool,
}

impl Live {
    fn channel(&mut self, broker: &Broker) -> &mpsc::Sender<Outbound> {
        if self.tx.is_none() {
            let (tx, rx) = mpsc::channel(16);
            broker.attach(&self.client, self.session, tx.clone());
            self.tx = Some(tx);
            self.rx = Some(rx);
        }
        self.tx.as_ref().expect("just set")
    }
}

/// Sends one delivery, or holds it: QoS 1 beyond the client's Receive
/// Maximum waits; an expired message is dropped; one larger than the
/// client's Maximum Packet Size is dropped as if sent (MQTT 5.0 3.1.2.11).
async fn deliver<S: AsyncRead + AsyncWrite + Unpin>(
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
    let kick = Arc::new(Notify::new());
    // Boxed so the long-lived session future does not carry the CONNECT
    // phase's state.
    let Some(accepted) = Box::pin(accept_connect(&mut conn, &ctx, &kick)).await else {
        return conn.close().await;
    };
    let Accepted {
        client_id,
        mut will,
        keep_alive,
        session_expiry,
        expiry_was_zero,
        receive_max,
        client_max_packet,
        resumed,
    } = accepted;
    let mut live = Live {
        client: client_id,
        session: resumed.id,
        tx: None,
        rx: None,
        inflight: BTreeMap::new(),
        pending: VecDeque::new(),
        receive_max: usize::from(receive_max),
        client_max_packet,
        next_pid: 0,
        session_expiry,
        expiry_was_zero,
        send_will: true,
    };
    counters.sessions_open.fetch_add(1, Relaxed);
    if resumed.subscribed {
        live.channel(&ctx.broker);
    }
    // Messages queued while the client was away go first; a failed send
    // ends the session before it starts.
    let mut alive = true;
    for out in resumed.queued {
        if deliver(&mut conn, &mut live, &counters, out).await.is_err() {
            alive = false;
            break;
        }
    }
    let silence = Duration::from_millis(u64::from(keep_alive) * 1500);
    let mut idle_deadline = Instant::now() + silence;
    'session: loop {
        if !alive {
            break;
        }
        // Handle everything already buffered before waiting again.
        loop {
            match conn.buffered() {
                Ok(Some(p)) => {
                    idle_deadline = Instant::now() + silence;
                    match Box::pin(handle(&mut conn, p, &ctx, &mut live)).await {
                        Step::Continue => {}
                        Step::Disconnect => break 'session,
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
                Some(out) => {
                    if deliver(&mut conn, &mut live, &counters, out).await.is_err() {
                        break 'session;
                    }
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
    let expiry = Duration::from_secs(u64::from(live.session_expiry));
    if live.send_will {
        if let Some(w) = will.take() {
            publish_will(&ctx.broker, &live, w, expiry, conn.protocol == Protocol::V5);
        }
    }
    // What was sent and not acknowledged, then what waited, stays with a
    // persistent session (resent with DUP when the client comes back).
    let mut unacked: Vec<Outbound> = std::mem::take(&mut live.inflight).into_values().collect();
    unacked.extend(live.pending.drain(..).filter(|o| o.qos == QoS::AtLeastOnce));
    ctx.broker
        .unregister(&live.client, live.session, expiry, unacked);
    counters.sessions_open.fetch_sub(1, Relaxed);
    conn.close().await;
}

/// Publishes the will now, or after its Will Delay Interval (bounded by
/// the session expiry, MQTT 5.0 3.1.3.2.2) unless the client has come back
/// to its session by then.
fn publish_will(broker: &Arc<Broker>, live: &Live, w: mqtt::Will, expiry: Duration, v5: bool) {
    let qos = QoS::from_bits(w.qos).unwrap_or(QoS::AtMostOnce);
    let msg = message(
        &w.topic,
        w.payload.clone(),
        qos,
        w.retain,
        &w.properties,
        None,
    );
    let delay = if v5 {
        Duration::from_secs(u64::from(
            w.properties.u32(prop_id::WILL_DELAY).unwrap_or(0),
        ))
        .min(expiry)
    } else {
        Duration::ZERO
    };
    if delay.is_zero() {
        broker.publish(msg);
        return;
    }
    let (broker, client, session) = (broker.clone(), live.client.clone(), live.session);
    tokio::spawn(async move {
        sleep(delay).await;
        // A new connection took the session: no will (MQTT 5.0 3.1.3.2.2).
        if broker.owner(&client).is_none_or(|owner| owner == session) {
            broker.publish(msg);
        }
    });
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

/// Refuses a 5.0 session with `reason` (DISCONNECT, then close); a 3.1.1
/// one is just closed.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>, reason: u8) -> Step {
    send_disconnect(conn, reason).await;
    Step::Violation
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    p: Packet,
    ctx: &SessionCtx,
    live: &mut Live,
) -> Step {
    let v5 = conn.protocol == Protocol::V5;
    let sent = match p {
        Packet::PingReq => conn.send(&Packet::PingResp).await,
        Packet::Publish(p) => {
            ctx.counters.publishes_in.fetch_add(1, Relaxed);
            if p.qos == QoS::ExactlyOnce {
                // AWS IoT does not support QoS 2 and disconnects.
                return refuse(conn, codes::V5_QOS_NOT_SUPPORTED).await;
            }
            // Topic Alias Maximum is 0: any alias is invalid (3.3.2.3.4).
            if p.properties.get(prop_id::TOPIC_ALIAS).is_some() {
                return refuse(conn, codes::V5_TOPIC_ALIAS_INVALID).await;
            }
            // No topic and (necessarily) no alias: a Protocol Error.
            if p.topic.is_empty() || p.properties.repeated().is_some() {
                return refuse(conn, codes::V5_PROTOCOL_ERROR).await;
            }
            if p.retain && !ctx.limits.retain_available && v5 {
                return refuse(conn, codes::V5_RETAIN_NOT_SUPPORTED).await;
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
        Packet::PubAck(a) => {
            live.inflight.remove(&a.packet_id);
            // Room under the Receive Maximum: send what waited.
            let mut r = Ok(());
            while live.inflight.len() < live.receive_max && r.is_ok() {
                let Some(next) = live.pending.pop_front() else {
                    break;
                };
                r = deliver(conn, live, &ctx.counters, next).await;
            }
            r
        }
        Packet::Subscribe(s) => {
            if s.packet_id == 0 {
                return refuse(conn, codes::V5_PROTOCOL_ERROR).await;
            }
            // CONNACK said Subscription Identifiers Available = 0.
            if s.properties.get(prop_id::SUBSCRIPTION_ID).is_some() {
                return refuse(conn, codes::V5_SUB_IDS_NOT_SUPPORTED).await;
            }
            let mut codes_out = Vec::with_capacity(s.filters.len());
            let mut retained = Vec::new();
            for f in &s.filters {
                let qos = QoS::from_bits(f.options & 0x03);
                let code = match qos {
                    _ if f.filter.starts_with("$share/") => {
                        if v5 {
                            codes::V5_SHARED_SUBS_NOT_SUPPORTED
                        } else {
                            codes::SUBACK_FAILURE
                        }
                    }
                    _ if !mqtt::topic::valid_filter(&f.filter) => {
                        if v5 {
                            codes::V5_TOPIC_FILTER_INVALID
                        } else {
                            codes::SUBACK_FAILURE
                        }
                    }
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
            let mut r = conn.send(&ack).await;
            for out in retained {
                if r.is_err() {
                    break;
                }
                r = deliver(conn, live, &ctx.counters, out).await;
            }
            r
        }
        Packet::Unsubscribe(u) => {
            if u.packet_id == 0 {
                return refuse(conn, codes::V5_PROTOCOL_ERROR).await;
            }
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
            let ack = Packet::UnsubAck(mqtt::UnsubAck {
                packet_id: u.packet_id,
                properties: Properties::default(),
                codes: if v5 { codes_out } else { Vec::new() },
            });
            conn.send(&ack).await
        }
        Packet::Disconnect(d) => {
            // 0x04: disconnect with will message; any other reason a
            // client sends ends the session without it.
            live.send_will = d.reason == codes::V5_DISCONNECT_WITH_WILL;
            if let Some(e) = d.properties.u32(prop_id::SESSION_EXPIRY) {
                // A session that began with expiry 0 may not gain one (3.14.2.2.2).
                if live.expiry_was_zero && e != 0 {
                    live.send_will = true;
                    return refuse(conn, codes::V5_PROTOCOL_ERROR).await;
                }
                live.session_expiry = e.min(ctx.limits.max_session_expiry_s);
            }
            return Step::Disconnect;
        }
        // A second CONNECT, or packets only a server sends.
        _ => return refuse(conn, codes::V5_PROTOCOL_ERROR).await,
    };
    if sent.is_err() {
        Step::Violation
    } else {
        Step::Continue
    }
}
