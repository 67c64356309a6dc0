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

mod conn;
mod connect;
mod packets;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{sleep, Instant};

use super::broker::{Broker, Message, Outbound};
use super::config::MqttLimits;
use super::counters::Counters;
use super::faults::{ConnPlan, PerClientLimit, TokenBucket};
use crate::mqtt::{self, codes, prop_id, Properties, Protocol, QoS};
use conn::{send_disconnect, Conn, ReadEnd, Step};
use connect::{accept_connect, Accepted};
use packets::{deliver, handle};

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
pub(super) fn message(
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

/// Waits for a delivery when the session has subscribed, forever otherwise.
async fn next_delivery(rx: &mut Option<mpsc::Receiver<Outbound>>) -> Option<Outbound> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Per-session state the packet handler may change.
pub(crate) struct Live {
    pub(super) client: Arc<str>,
    pub(super) session: u64,
    /// Created on the first SUBSCRIBE (or at once for a resumed session
    /// with subscriptions): only subscribers pay for a channel.
    pub(super) tx: Option<mpsc::Sender<Outbound>>,
    pub(super) rx: Option<mpsc::Receiver<Outbound>>,
    /// QoS 1 PUBLISHes sent and not yet acknowledged, by packet id.
    pub(super) inflight: BTreeMap<u16, Outbound>,
    /// Waiting for room under the client's Receive Maximum.
    pub(super) pending: VecDeque<Outbound>,
    pub(super) receive_max: usize,
    pub(super) client_max_packet: Option<u32>,
    pub(super) next_pid: u16,
    /// Granted session expiry, seconds (DISCONNECT may change it).
    pub(super) session_expiry: u32,
    pub(super) expiry_was_zero: bool,
    /// Publish the will at the end (cleared by a normal DISCONNECT).
    pub(super) send_will: bool,
}

impl Live {
    pub(super) fn channel(&mut self, broker: &Broker) -> &mpsc::Sender<Outbound> {
        if self.tx.is_none() {
            let (tx, rx) = mpsc::channel(16);
            broker.attach(&self.client, self.session, tx.clone());
            self.tx = Some(tx);
            self.rx = Some(rx);
        }
        self.tx.as_ref().expect("just set")
    }
}

/// Runs a session to its end: CONNECT, what waited for a resumed session,
/// packets and deliveries until it ends, then the will and the broker's
/// bookkeeping.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(stream: S, mut ctx: SessionCtx) {
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(256),
        out: BytesMut::new(),
        protocol: Protocol::V311,
        max_packet: ctx.limits.max_packet,
    };
    let kick = Arc::new(Notify::new());
    // Boxed so the long-lived session future does not carry the CONNECT
    // phase's state.
    let Some(accepted) = Box::pin(accept_connect(&mut conn, &ctx, &kick)).await else {
        return conn.close().await;
    };
    let (mut live, will, keep_alive, queued) = open(accepted, &ctx);
    ctx.counters.sessions_open.fetch_add(1, Relaxed);
    // Messages queued while the client was away go first; a failed send
    // ends the session before it starts.
    let mut alive = true;
    for out in queued {
        if deliver(&mut conn, &mut live, &ctx.counters, out)
            .await
            .is_err()
        {
            alive = false;
            break;
        }
    }
    if alive {
        serve(&mut conn, &mut ctx, &mut live, &kick, keep_alive).await;
    }
    close(&mut conn, &ctx, live, will).await;
}

/// The open session's state from what the CONNECT settled; its will, keep
/// alive, and the deliveries queued while it was away.
fn open(a: Accepted, ctx: &SessionCtx) -> (Live, Option<mqtt::Will>, u16, Vec<Outbound>) {
    let mut live = Live {
        client: a.client_id,
        session: a.resumed.id,
        tx: None,
        rx: None,
        inflight: BTreeMap::new(),
        pending: VecDeque::new(),
        receive_max: usize::from(a.receive_max),
        client_max_packet: a.client_max_packet,
        next_pid: 0,
        session_expiry: a.session_expiry,
        expiry_was_zero: a.expiry_was_zero,
        send_will: true,
    };
    if a.resumed.subscribed {
        live.channel(&ctx.broker);
    }
    (live, a.will, a.keep_alive, a.resumed.queued)
}

/// Packets and deliveries until the client leaves or breaks the protocol,
/// stays silent past 1.5 × keep alive, is taken over, or the endpoint shuts
/// down.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &mut SessionCtx,
    live: &mut Live,
    kick: &Notify,
    keep_alive: u16,
) {
    let counters = ctx.counters.clone();
    let silence = Duration::from_millis(u64::from(keep_alive) * 1500);
    let mut idle_deadline = Instant::now() + silence;
    loop {
        // Handle everything already buffered before waiting again.
        loop {
            match conn.buffered() {
                Ok(Some(p)) => {
                    idle_deadline = Instant::now() + silence;
                    match Box::pin(handle(conn, p, ctx, live)).await {
                        Step::Continue => {}
                        Step::Disconnect => return,
                        Step::Violation => {
                            counters.protocol_errors.fetch_add(1, Relaxed);
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(ReadEnd::Malformed) => {
                    counters.protocol_errors.fetch_add(1, Relaxed);
                    send_disconnect(conn, codes::V5_MALFORMED).await;
                    return;
                }
                Err(ReadEnd::Closed) => return,
            }
        }
        tokio::select! {
            r = conn.fill() => if r.is_err() { return },
            msg = next_delivery(&mut live.rx) => match msg {
                Some(out) => {
                    if deliver(conn, live, &counters, out).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            _ = kick.notified() => {
                counters.taken_over.fetch_add(1, Relaxed);
                send_disconnect(conn, codes::V5_SESSION_TAKEN_OVER).await;
                return;
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                counters.keepalive_timeouts.fetch_add(1, Relaxed);
                send_disconnect(conn, codes::V5_KEEP_ALIVE_TIMEOUT).await;
                return;
            }
            _ = ctx.shutdown.changed() => {
                // 0x8B: server shutting down.
                send_disconnect(conn, 0x8B).await;
                return;
            }
        }
    }
}

/// The will (unless a normal DISCONNECT cleared it), then the session goes
/// back to the broker with what was sent and not acknowledged and what
/// waited (resent with DUP when the client comes back).
async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ctx: &SessionCtx,
    mut live: Live,
    will: Option<mqtt::Will>,
) {
    let expiry = Duration::from_secs(u64::from(live.session_expiry));
    if live.send_will {
        if let Some(w) = will {
            publish_will(&ctx.broker, &live, w, expiry, conn.protocol == Protocol::V5);
        }
    }
    let mut unacked: Vec<Outbound> = std::mem::take(&mut live.inflight).into_values().collect();
    unacked.extend(live.pending.drain(..).filter(|o| o.qos == QoS::AtLeastOnce));
    ctx.broker
        .unregister(&live.client, live.session, expiry, unacked);
    ctx.counters.sessions_open.fetch_sub(1, Relaxed);
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
