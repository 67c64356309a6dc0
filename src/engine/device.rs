//! One simulated device: attempts (dial → TLS with the timed verifier →
//! MQTT CONNECT/CONNACK), the hold (PINGREQ at keep alive, publishes), and
//! reconnects. Every measurement goes into the worker's local recorder.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::dialer::Started;
use super::shared::{GroupRt, Shared};
use crate::client::mqtt::MqttConn;
use crate::client::{handshake_failure, with_device_cert};
use crate::link::Shaper;
use crate::metrics::{
    Anchor, Cause, DialCause, EndpointKind, FailureKey, HoldCause, LocalRecorder, MqttCause, Phase,
    SeriesKey, TlsCause, WireKey,
};
use crate::mqtt::{self, Packet, Protocol as Mqtt, QoS};
use crate::scenario::schema::{EndpointChoice, Protocol, ReconnectPolicy};
use crate::scenario::DevicePlan;
use crate::transport::WireCount;
use crate::trust::{with_probe, ValidationProbe};

type Rec = Rc<RefCell<LocalRecorder>>;

/// How an attempt ended.
enum End {
    /// Connected; the session follows (boxed: the TLS stream is large).
    Connected(Box<Session>),
    /// Succeeded and nothing follows (protocol `tls`).
    Done,
    /// Failed (already recorded).
    Failed,
    /// Cut off at the drain deadline (already recorded).
    Aborted,
}

type Tls = crate::transport::ClientTls;

struct Session {
    conn: MqttConn<Tls>,
    endpoint: EndpointKind,
}

/// A finished handshake: the stream, the endpoint kind the chain showed,
/// when it ended and how many certificates the server sent.
struct Handshaken {
    stream: Tls,
    endpoint: EndpointKind,
    done: Instant,
    certs: u8,
}

fn shaper_retransmits(link: &Option<Shaper>) -> u32 {
    link.as_ref().map_or(0, Shaper::retransmits)
}

/// Waits for `fut` unless the abort signal fires first.
async fn or_abort<F: std::future::Future>(
    abort: &mut watch::Receiver<bool>,
    fut: F,
) -> Option<F::Output> {
    if *abort.borrow() {
        return None;
    }
    tokio::select! {
        r = fut => Some(r),
        _ = abort.wait_for(|a| *a) => None,
    }
}

struct Attempt<'a> {
    sh: &'a Shared,
    g: &'a GroupRt,
    gi: u16,
    rec: &'a Rec,
    abort: watch::Receiver<bool>,
    /// The emulated link of this attempt (`None` on loopback).
    link: Option<Shaper>,
}

impl Attempt<'_> {
    fn ms(&self) -> u64 {
        self.sh.run_start.elapsed().as_millis() as u64
    }

    fn record(&self, phase: Phase, endpoint: EndpointKind, d: Duration) {
        self.record_anchor(phase, endpoint, None, d.as_nanos() as u64);
    }

    fn record_anchor(
        &self,
        phase: Phase,
        endpoint: EndpointKind,
        anchor: Option<Anchor>,
        nanos: u64,
    ) {
        let key = SeriesKey {
            phase,
            group: self.gi,
            endpoint,
            anchor,
        };
        self.rec.borrow_mut().record(key, nanos);
    }

    fn fail(&self, cause: Cause, endpoint: EndpointKind, message: &str) -> End {
        let key = FailureKey {
            cause,
            group: self.gi,
            endpoint,
        };
        self.rec.borrow_mut().fail(key, self.ms(), message);
        End::Failed
    }

    fn aborted(&self) -> End {
        self.rec.borrow_mut().aborted();
        End::Aborted
    }

    /// One attempt, as a sequence of steps: admit → dial → handshake →
    /// MQTT. Each step records what it measured and ends the attempt with
    /// an [`End`] when it fails.
    async fn run(
        &mut self,
        d: &DevicePlan,
        choice: EndpointChoice,
        intended: Instant,
        started: Option<Started>,
    ) -> End {
        let requested = match choice {
            EndpointChoice::Legacy => EndpointKind::Legacy,
            EndpointChoice::Ats => EndpointKind::Ats,
        };
        match self.steps(d, choice, requested, intended, started).await {
            Ok(end) | Err(end) => end,
        }
    }

    async fn steps(
        &mut self,
        d: &DevicePlan,
        choice: EndpointChoice,
        requested: EndpointKind,
        intended: Instant,
        started: Option<Started>,
    ) -> Result<End, End> {
        let began = started.as_ref().map(|s| Instant::from_std(s.at));
        let (_permit, actual) = self.admit(requested, intended, began).await?;
        let (tcp, t_tcp) = self.dial(requested, actual, started).await?;
        if self.g.protocol == Protocol::Tcp {
            self.succeeded(requested, intended, actual, t_tcp);
            let none = WireCount::default();
            self.record_wire(
                requested,
                0,
                t_tcp - intended,
                &none,
                &none,
                self.retransmits(),
            );
            drop(tcp);
            return Ok(End::Done);
        }
        let hs = self.handshake(d, choice, requested, tcp, t_tcp).await?;
        let (endpoint, certs, hs_wire) = (hs.endpoint, hs.certs, hs.stream.wire());
        let proto = match self.g.protocol {
            Protocol::Tcp | Protocol::Tls => {
                self.succeeded(endpoint, intended, actual, hs.done);
                let retransmits = hs.stream.retransmits();
                let connect = hs.done - intended;
                self.record_wire(endpoint, certs, connect, &hs_wire, &hs_wire, retransmits);
                let mut s = hs.stream;
                let _ = s.shutdown().await;
                return Ok(End::Done);
            }
            Protocol::Mqtt311 => Mqtt::V311,
            Protocol::Mqtt5 => Mqtt::V5,
        };
        let mut conn = self
            .mqtt(d, MqttConn::new(hs.stream, proto), endpoint)
            .await?;
        let done = Instant::now();
        self.succeeded(endpoint, intended, actual, done);
        let (total, retransmits) = (conn.stream.wire(), conn.stream.retransmits());
        self.record_wire(
            endpoint,
            certs,
            done - intended,
            &hs_wire,
            &total,
            retransmits,
        );
        // Held from here on: keep the traffic keys, not the rustls state
        // (if rustls declines, the session holds on rustls as before).
        let _ = conn.stream.shed();
        Ok(End::Connected(Box::new(Session { conn, endpoint })))
    }

    /// Counts the attempt, records the scheduler's lag and waits for an
    /// in-flight slot. Waiting here is visible in connect_total, as it
    /// would be for a real device, but not in the service time. `began` is
    /// when the scheduler started the connect, if it did: the attempt
    /// started then.
    async fn admit(
        &mut self,
        requested: EndpointKind,
        intended: Instant,
        began: Option<Instant>,
    ) -> Result<(Option<tokio::sync::OwnedSemaphorePermit>, Instant), End> {
        self.rec.borrow_mut().attempt();
        let started = began.unwrap_or_else(Instant::now);
        self.record(
            Phase::SchedulerLag,
            requested,
            started.saturating_duration_since(intended),
        );
        if let Some(b) = began {
            return Ok((None, b));
        }
        let permit = match &self.sh.in_flight {
            Some(sem) => match or_abort(&mut self.abort, sem.clone().acquire_owned()).await {
                Some(Ok(p)) => Some(p),
                _ => return Err(self.aborted()),
            },
            None => None,
        };
        Ok((permit, Instant::now()))
    }

    /// Connects (or finishes the connect the scheduler started); records
    /// `tcp_connect` from `actual`.
    async fn dial(
        &mut self,
        requested: EndpointKind,
        actual: Instant,
        started: Option<Started>,
    ) -> Result<(tokio::net::TcpStream, Instant), End> {
        let dialer = &self.sh.dialer;
        let connect = async move {
            match started {
                Some(Started { sock, .. }) => dialer.finish(sock?).await,
                None => dialer.dial().await,
            }
        };
        let tcp = match or_abort(&mut self.abort, connect).await {
            None => return Err(self.aborted()),
            Some(Err(e)) => {
                let cause = Cause::Dial(DialCause::of(&e));
                return Err(self.fail(cause, requested, &e.to_string()));
            }
            Some(Ok(t)) => t,
        };
        self.link_connect(requested).await?;
        let t_tcp = Instant::now();
        self.record(Phase::TcpConnect, requested, t_tcp - actual);
        Ok((tcp, t_tcp))
    }

    /// On an emulated link the loopback connect is only the start: the SYN
    /// and SYN-ACK take their round trip and their retransmissions, and a
    /// connect longer than the group's dial timeout fails as a timeout.
    async fn link_connect(&mut self, requested: EndpointKind) -> Result<(), End> {
        let Some(shaper) = self.link.as_mut() else {
            return Ok(());
        };
        let delay = shaper.connect_delay();
        let limit = self.g.timeouts.0;
        let wait = tokio::time::sleep(delay.min(limit));
        if or_abort(&mut self.abort, wait).await.is_none() {
            return Err(self.aborted());
        }
        if delay > limit {
            let cause = Cause::Dial(DialCause::Timeout);
            let msg = format!(
                "TCP connect timed out after {} on the emulated link ({} SYN retransmissions)",
                crate::metrics::format_ns(limit.as_nanos() as f64),
                shaper_retransmits(&self.link)
            );
            return Err(self.fail(cause, requested, &msg));
        }
        Ok(())
    }

    fn retransmits(&self) -> u32 {
        shaper_retransmits(&self.link)
    }

    /// Records what a successful connect put on the wire.
    fn record_wire(
        &self,
        endpoint: EndpointKind,
        certs: u8,
        connect_total: Duration,
        handshake: &WireCount,
        total: &WireCount,
        retransmits: u32,
    ) {
        let s = super::wire::sample(&self.g.link, connect_total, handshake, total, retransmits);
        let key = WireKey {
            group: self.gi,
            endpoint,
            certs,
        };
        self.rec.borrow_mut().wire(key, &s);
    }

    /// The TLS handshake with the timed verifier; records chain validation
    /// under the endpoint kind the verified path shows.
    async fn handshake(
        &mut self,
        d: &DevicePlan,
        choice: EndpointChoice,
        requested: EndpointKind,
        tcp: tokio::net::TcpStream,
        t_tcp: Instant,
    ) -> Result<Handshaken, End> {
        let name = match choice {
            EndpointChoice::Legacy => &self.g.sni_legacy,
            EndpointChoice::Ats => &self.g.sni_ats,
        };
        let probe = Arc::new(ValidationProbe::default());
        let hs = with_device_cert(
            self.sh.device_cert(d),
            with_probe(
                probe.clone(),
                timeout_at(
                    t_tcp + self.g.timeouts.1,
                    Tls::connect_over(self.g.config.clone(), name.clone(), tcp, self.link.take()),
                ),
            ),
        );
        let hs = or_abort(&mut self.abort, hs).await;
        let mut endpoint = requested;
        if let Some(s) = probe.take() {
            let anchor = match s.outcome {
                Ok((_, kind)) => {
                    endpoint = match (requested, kind) {
                        (EndpointKind::Ats, Anchor::AtsEcc) => EndpointKind::AtsEcc,
                        (EndpointKind::Ats, Anchor::AtsRsa | Anchor::CrossSigned) => {
                            EndpointKind::AtsRsa
                        }
                        (r, _) => r,
                    };
                    Some(kind)
                }
                Err(_) => Some(Anchor::Rejected),
            };
            self.record_anchor(Phase::ChainValidation, endpoint, anchor, s.nanos);
        }
        let stream = match hs {
            None => return Err(self.aborted()),
            Some(Err(_)) => {
                let cause = Cause::Tls(TlsCause::Timeout);
                return Err(self.fail(cause, endpoint, "TLS handshake timed out"));
            }
            Some(Ok(Err(e))) => {
                let (cause, msg) = handshake_failure(&e, self.g.narrow_offer);
                return Err(self.fail(cause, endpoint, &msg));
            }
            Some(Ok(Ok(s))) => s,
        };
        let t_tls = Instant::now();
        self.record(Phase::TlsHandshake, endpoint, t_tls - t_tcp);
        let kind = match stream.common().and_then(|c| c.handshake_kind()) {
            Some(rustls::HandshakeKind::FullWithHelloRetryRequest) => 1,
            Some(rustls::HandshakeKind::Resumed) => 2,
            _ => 0,
        };
        self.rec.borrow_mut().handshake(kind);
        let certs = stream
            .common()
            .and_then(|c| c.peer_certificates())
            .map_or(0, |c| c.len().min(255) as u8);
        Ok(Handshaken {
            stream,
            endpoint,
            done: t_tls,
            certs,
        })
    }

    /// CONNECT → CONNACK.
    async fn mqtt(
        &mut self,
        d: &DevicePlan,
        mut conn: MqttConn<Tls>,
        endpoint: EndpointKind,
    ) -> Result<MqttConn<Tls>, End> {
        let t_sent = Instant::now();
        let deadline = t_sent + self.g.timeouts.2;
        let keepalive = self.g.keepalive_s;
        let res = or_abort(
            &mut self.abort,
            conn.connect(&d.client_id, keepalive, deadline),
        )
        .await;
        match res {
            None => Err(self.aborted()),
            Some(Err((cause, msg))) => Err(self.fail(Cause::Mqtt(cause), endpoint, &msg)),
            Some(Ok(())) => {
                self.record(Phase::MqttConnack, endpoint, Instant::now() - t_sent);
                Ok(conn)
            }
        }
    }

    /// Records the totals of an attempt that reached its goal at `done`.
    fn succeeded(&self, endpoint: EndpointKind, intended: Instant, actual: Instant, done: Instant) {
        self.record(
            Phase::ConnectTotal,
            endpoint,
            done.saturating_duration_since(intended),
        );
        self.record(Phase::ServiceTime, endpoint, done - actual);
        self.rec.borrow_mut().success();
    }
}

/// Holds a session until `until` or the stop signal; `true` if it ended
/// by the device's choice, `false` on a hold failure (recorded).
async fn hold(
    a: &Attempt<'_>,
    mut s: Box<Session>,
    until: Instant,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let ka = Duration::from_secs(u64::from(a.g.keepalive_s.max(1)));
    let publish_every =
        (a.g.publish_per_s > 0.0).then(|| Duration::from_secs_f64(1.0 / a.g.publish_per_s));
    let mut next_ping = Instant::now() + ka;
    let mut ping_deadline: Option<Instant> = None;
    let mut next_pub = publish_every.map(|e| Instant::now() + e);
    let topic = format!("dt/chainstorm/{}", a.g.name);
    let endpoint = s.endpoint;
    let fail = |cause: HoldCause, msg: &str| {
        let key = FailureKey {
            cause: Cause::Hold(cause),
            group: a.gi,
            endpoint,
        };
        a.rec.borrow_mut().fail(key, a.ms(), msg);
        false
    };
    let clean = loop {
        let wake = [Some(until), Some(next_ping), ping_deadline, next_pub]
            .into_iter()
            .flatten()
            .min()
            .expect("until is always set");
        tokio::select! {
            _ = sleep_until(wake) => {
                let now = Instant::now();
                if now >= until { break true; }
                if ping_deadline.is_some_and(|d| now >= d) {
                    break fail(HoldCause::KeepaliveTimeout, "no PINGRESP within half the keep alive");
                }
                if now >= next_ping {
                    if s.conn.send(&Packet::PingReq).await.is_err() {
                        break fail(HoldCause::ClosedByServer, "write failed while sending PINGREQ");
                    }
                    ping_deadline = Some(now + ka / 2);
                    next_ping = now + ka;
                }
                if let (Some(t), Some(every)) = (next_pub, publish_every) {
                    if now >= t {
                        let p = Packet::Publish(mqtt::Publish {
                            dup: false,
                            qos: QoS::AtMostOnce,
                            retain: false,
                            topic: topic.clone(),
                            packet_id: None,
                            properties: mqtt::Properties::default(),
                            payload: Bytes::from_static(b"{\"chainstorm\":1}"),
                        });
                        if s.conn.send(&p).await.is_err() {
                            break fail(HoldCause::ClosedByServer, "write failed while publishing");
                        }
                        next_pub = Some(t + every);
                        next_ping = now + ka;
                    }
                }
            }
            r = s.conn.recv() => match r {
                Ok(Packet::PingResp) => ping_deadline = None,
                Ok(Packet::Disconnect(d)) => break fail(HoldCause::ClosedByServer, &format!("server DISCONNECT {:#04x}", d.reason)),
                Ok(_) => {}
                Err((MqttCause::Reset, m)) => break fail(HoldCause::Reset, &m),
                Err((_, m)) => break fail(HoldCause::ClosedByServer, &m),
            },
            _ = stop.wait_for(|v| *v) => break true,
        }
    };
    if clean {
        s.conn.disconnect().await;
    }
    clean
}

/// Where a device task is, so a panic is accounted where it happened: an
/// open attempt fails with cause `internal` (keeping attempted = succeeded
/// + failed + in flight), a held session ends as a hold failure `internal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// No attempt open.
    Between,
    /// An attempt is open (counted as attempted, no outcome yet).
    Attempt(EndpointKind),
    /// Connected and holding.
    Holding(EndpointKind),
}

/// Decrements the connected gauge however the hold ends, panics included.
struct ConnectedGuard<'a>(&'a Shared);

impl Drop for ConnectedGuard<'_> {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Relaxed);
    }
}

/// Records a device task's panic where it happened (see [`Stage`]).
pub(crate) fn record_panic(rec: &Rec, at_ms: u64, group: u16, stage: Stage, message: &str) {
    // The recorder is free again: any borrow the panic interrupted was
    // dropped while unwinding.
    let Ok(mut r) = rec.try_borrow_mut() else {
        return;
    };
    let (cause, endpoint, what) = match stage {
        Stage::Attempt(e) => (Cause::Internal, e, "during an attempt"),
        Stage::Holding(e) => {
            r.disconnected();
            (Cause::Hold(HoldCause::Internal), e, "while holding")
        }
        Stage::Between => (
            Cause::Hold(HoldCause::Internal),
            EndpointKind::Custom,
            "between attempts",
        ),
    };
    let key = FailureKey {
        cause,
        group,
        endpoint,
    };
    r.fail(
        key,
        at_ms,
        &format!("device task panicked {what}: {message}"),
    );
}

/// Runs a device from its first attempt to its last.
pub(crate) async fn run(
    sh: Arc<Shared>,
    rec: Rec,
    d: DevicePlan,
    mut started: Option<Started>,
    stage: Rc<std::cell::Cell<Stage>>,
) {
    let g = &sh.groups[d.group as usize];
    let mut rng =
        ChaCha8Rng::seed_from_u64(sh.seed ^ (u64::from(d.group) << 32) ^ u64::from(d.index));
    let mut stop = sh.stop.clone();
    let mut intended = sh.start + d.arrival;
    let mut attempt_no: u32 = 0;
    let mut consecutive_failures: u32 = 0;
    loop {
        if intended >= sh.end || *stop.borrow() {
            return;
        }
        let now_s = intended.saturating_duration_since(sh.start).as_secs_f64();
        let choice = sh.endpoint_for(&d, g, now_s, attempt_no);
        let mut a = Attempt {
            sh: &sh,
            g,
            gi: d.group,
            rec: &rec,
            abort: sh.abort.clone(),
            link: super::wire::shaper(&g.link, sh.seed, d.group, d.index, attempt_no),
        };
        // Open loop: wait for the intended start (the scheduler already did
        // for the first attempt; reconnects wait for their backoff here).
        if intended > Instant::now() {
            sleep_until(intended).await;
        }
        // Boxed: the attempt's state (the TLS connect future among it) lives
        // only while the attempt does, not for the whole of a held session.
        stage.set(Stage::Attempt(match choice {
            EndpointChoice::Legacy => EndpointKind::Legacy,
            EndpointChoice::Ats => EndpointKind::Ats,
        }));
        let end = Box::pin(a.run(&d, choice, intended, started.take())).await;
        stage.set(Stage::Between);
        let failed = match end {
            End::Aborted => return,
            End::Done => false,
            End::Failed => true,
            End::Connected(s) => {
                sh.connected.fetch_add(1, Relaxed);
                let _connected = ConnectedGuard(&sh);
                stage.set(Stage::Holding(s.endpoint));
                let until = (Instant::now() + g.hold).min(sh.end);
                let clean = Box::pin(hold(&a, s, until, &mut stop)).await;
                stage.set(Stage::Between);
                rec.borrow_mut().disconnected();
                !clean
            }
        };
        attempt_no += 1;
        if !failed {
            return;
        }
        consecutive_failures += 1;
        if attempt_no >= sh.reconnect.max_attempts {
            return;
        }
        let wait = match sh.reconnect.policy {
            ReconnectPolicy::None => return,
            ReconnectPolicy::Immediate => Duration::ZERO,
            ReconnectPolicy::Backoff => {
                // Full jitter: uniform in [0, min(cap, base * 2^n)].
                let exp = sh.reconnect.base_ms * 2f64.powi(consecutive_failures.min(30) as i32 - 1);
                Duration::from_secs_f64(rng.gen::<f64>() * exp.min(sh.reconnect.cap_ms) / 1000.0)
            }
        };
        intended = Instant::now() + wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes what the recorder holds: the one failure's cause and sample,
    /// and whether the accounting identity holds.
    fn take(rec: &Rec) -> (Cause, String, bool) {
        let mut agg = crate::metrics::Aggregate::default();
        agg.absorb(&rec.borrow_mut().take());
        let (k, f) = agg.failures.iter().next().expect("one failure");
        (
            k.cause.clone(),
            f.sample.clone(),
            agg.counts.accounting_error().is_none(),
        )
    }

    #[test]
    fn a_panic_is_accounted_where_it_happened() {
        let rec: Rec = Rc::new(RefCell::new(LocalRecorder::default()));
        rec.borrow_mut().attempt();
        record_panic(&rec, 5, 0, Stage::Attempt(EndpointKind::Ats), "boom");
        let (cause, sample, ok) = take(&rec);
        assert_eq!(cause, Cause::Internal);
        assert!(sample.contains("boom"), "{sample}");
        assert!(ok, "an open attempt becomes a failure");

        rec.borrow_mut().attempt();
        rec.borrow_mut().success();
        record_panic(&rec, 6, 0, Stage::Holding(EndpointKind::AtsRsa), "later");
        let (cause, _, ok) = take(&rec);
        assert_eq!(cause, Cause::Hold(HoldCause::Internal));
        assert!(ok, "a held session is a hold failure, not an attempt's");
    }
}
