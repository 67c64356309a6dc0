//! One simulated device: attempts (dial → TLS with the timed verifier →
//! MQTT CONNECT/CONNACK), the hold (PINGREQ at keep alive, publishes), and
//! reconnects. Every measurement goes into the worker's local recorder.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_rustls::TlsConnector;

use super::shared::{GroupRt, Shared};
use crate::metrics::{
    dial_cause, EndpointKind, FailPhase, FailureKey, LocalRecorder, Phase, SeriesKey,
};
use crate::mqtt::{self, Connect, Packet, Protocol as Mqtt, QoS};
use crate::scenario::schema::{EndpointChoice, Protocol, ReconnectPolicy};
use crate::scenario::DevicePlan;
use crate::trust::{with_probe, PathKind, ValidationProbe, VerifyFailure};

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

struct Session {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    buf: BytesMut,
    proto: Mqtt,
    endpoint: EndpointKind,
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

/// Classifies a failed TLS connect.
pub(crate) fn tls_failure(e: &std::io::Error) -> (FailPhase, String, String) {
    if let Some(r) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        if let Some(f) = VerifyFailure::from_rustls(r) {
            return (FailPhase::Verify, f.cause.label(), f.message);
        }
        return match r {
            rustls::Error::AlertReceived(d) => (
                FailPhase::Tls,
                crate::metrics::alert_label(*d),
                format!("server sent alert {d:?}"),
            ),
            other => (FailPhase::Tls, "protocol_error".into(), other.to_string()),
        };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => (
            FailPhase::Tls,
            "closed_during_handshake".into(),
            e.to_string(),
        ),
        std::io::ErrorKind::ConnectionReset => (FailPhase::Tls, "reset".into(), e.to_string()),
        std::io::ErrorKind::TimedOut => (
            FailPhase::Tls,
            "timeout".into(),
            "handshake timed out".into(),
        ),
        _ => (
            FailPhase::Tls,
            "closed_during_handshake".into(),
            e.to_string(),
        ),
    }
}

struct Attempt<'a> {
    sh: &'a Shared,
    g: &'a GroupRt,
    gi: u16,
    rec: &'a Rec,
    abort: watch::Receiver<bool>,
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
        anchor: Option<&'static str>,
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

    fn fail(&self, phase: FailPhase, cause: String, endpoint: EndpointKind, message: &str) -> End {
        let key = FailureKey {
            phase,
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

    async fn run(&mut self, d: &DevicePlan, choice: EndpointChoice, intended: Instant) -> End {
        let requested = match choice {
            EndpointChoice::Legacy => EndpointKind::Legacy,
            EndpointChoice::Ats => EndpointKind::Ats,
        };
        self.rec.borrow_mut().attempt();
        let started = Instant::now();
        self.record(
            Phase::SchedulerLag,
            requested,
            started.saturating_duration_since(intended),
        );
        // The in-flight cap: waiting here is visible in connect_total, as it
        // would be for a real device, but not in the service time.
        let _permit = match &self.sh.in_flight {
            Some(sem) => match or_abort(&mut self.abort, sem.clone().acquire_owned()).await {
                Some(Ok(p)) => Some(p),
                _ => return self.aborted(),
            },
            None => None,
        };
        let actual = Instant::now();
        let tcp = match or_abort(&mut self.abort, self.sh.dialer.dial()).await {
            None => return self.aborted(),
            Some(Err(e)) => {
                return self.fail(
                    FailPhase::Dial,
                    dial_cause(&e).into(),
                    requested,
                    &e.to_string(),
                )
            }
            Some(Ok(t)) => t,
        };
        let t_tcp = Instant::now();
        self.record(Phase::TcpConnect, requested, t_tcp - actual);

        let sni = match choice {
            EndpointChoice::Legacy => &self.g.sni_legacy,
            EndpointChoice::Ats => &self.g.sni_ats,
        };
        let name = ServerName::try_from(sni.clone()).expect("validated SNI");
        let probe = Arc::new(ValidationProbe::default());
        let connector = TlsConnector::from(self.g.config.clone());
        let cert = self.sh.device_cert(d);
        let hs = super::client::with_device_cert(
            cert,
            with_probe(
                probe.clone(),
                timeout_at(t_tcp + self.sh.tls_timeout, connector.connect(name, tcp)),
            ),
        );
        let hs = or_abort(&mut self.abort, hs).await;
        let sample = probe.take();
        let mut endpoint = requested;
        if let Some(s) = sample {
            let anchor = match s.outcome {
                Ok((_, kind)) => {
                    endpoint = match (requested, kind) {
                        (EndpointKind::Ats, PathKind::AtsEcc) => EndpointKind::AtsEcc,
                        (EndpointKind::Ats, PathKind::AtsRsa | PathKind::CrossSigned) => {
                            EndpointKind::AtsRsa
                        }
                        (r, _) => r,
                    };
                    Some(kind.label())
                }
                Err(_) => Some("rejected"),
            };
            self.record_anchor(Phase::ChainValidation, endpoint, anchor, s.nanos);
        }
        let stream = match hs {
            None => return self.aborted(),
            Some(Err(_)) => {
                return self.fail(
                    FailPhase::Tls,
                    "timeout".into(),
                    endpoint,
                    "TLS handshake timed out",
                );
            }
            Some(Ok(Err(e))) => {
                let (phase, cause, msg) = tls_failure(&e);
                return self.fail(phase, cause, endpoint, &msg);
            }
            Some(Ok(Ok(s))) => s,
        };
        let t_tls = Instant::now();
        self.record(Phase::TlsHandshake, endpoint, t_tls - t_tcp);
        let kind = match stream.get_ref().1.handshake_kind() {
            Some(rustls::HandshakeKind::FullWithHelloRetryRequest) => 1,
            Some(rustls::HandshakeKind::Resumed) => 2,
            _ => 0,
        };
        self.rec.borrow_mut().handshake(kind);

        let proto = match self.g.protocol {
            Protocol::Tls => {
                self.record(
                    Phase::ConnectTotal,
                    endpoint,
                    t_tls.saturating_duration_since(intended),
                );
                self.record(Phase::ServiceTime, endpoint, t_tls - actual);
                self.rec.borrow_mut().success();
                let mut s = stream;
                let _ = s.shutdown().await;
                return End::Done;
            }
            Protocol::Mqtt311 => Mqtt::V311,
            Protocol::Mqtt5 => Mqtt::V5,
        };
        let mut session = Session {
            stream,
            buf: BytesMut::with_capacity(64),
            proto,
            endpoint,
        };
        let connect = Packet::Connect(Connect::new(proto, &d.client_id, self.g.keepalive_s));
        let t_sent = Instant::now();
        let deadline = t_sent + self.sh.mqtt_timeout;
        let res = or_abort(&mut self.abort, async {
            send(&mut session, &connect).await?;
            match timeout_at(deadline, recv(&mut session)).await {
                Err(_) => Err(("timeout", "no CONNACK in time".to_string())),
                Ok(r) => r,
            }
        })
        .await;
        match res {
            None => self.aborted(),
            Some(Err((cause, msg))) => self.fail(FailPhase::Mqtt, cause.into(), endpoint, &msg),
            Some(Ok(Packet::ConnAck(a))) if a.code == 0 => {
                let t = Instant::now();
                self.record(Phase::MqttConnack, endpoint, t - t_sent);
                self.record(
                    Phase::ConnectTotal,
                    endpoint,
                    t.saturating_duration_since(intended),
                );
                self.record(Phase::ServiceTime, endpoint, t - actual);
                self.rec.borrow_mut().success();
                End::Connected(Box::new(session))
            }
            Some(Ok(Packet::ConnAck(a))) => {
                let name = mqtt::codes::connack_name(proto == Mqtt::V5, a.code);
                self.fail(
                    FailPhase::Mqtt,
                    format!("connack({:#04x})", a.code),
                    endpoint,
                    &format!("CONNACK {:#04x}: {name}", a.code),
                )
            }
            Some(Ok(p)) => self.fail(
                FailPhase::Mqtt,
                "protocol_error".into(),
                endpoint,
                &format!("{} instead of CONNACK", p.name()),
            ),
        }
    }
}

async fn send(s: &mut Session, p: &Packet) -> Result<(), (&'static str, String)> {
    let mut out = BytesMut::new();
    mqtt::encode(p, s.proto, &mut out);
    s.stream
        .write_all(&out)
        .await
        .map_err(|e| ("closed_before_connack", e.to_string()))?;
    s.stream
        .flush()
        .await
        .map_err(|e| ("closed_before_connack", e.to_string()))
}

/// Reads one packet; errors are (cause, message) in the mqtt phase's terms.
async fn recv(s: &mut Session) -> Result<Packet, (&'static str, String)> {
    loop {
        match mqtt::decode(&s.buf, s.proto, mqtt::DEFAULT_MAX_REMAINING) {
            Ok(Some(d)) => {
                let _ = s.buf.split_to(d.len);
                return Ok(d.packet);
            }
            Ok(None) => {}
            Err(e) => return Err(("protocol_error", e.to_string())),
        }
        s.buf.reserve(256);
        match s.stream.read_buf(&mut s.buf).await {
            Ok(0) => {
                return Err((
                    "closed_before_connack",
                    "server closed the connection".into(),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(("reset", e.to_string()))
            }
            Err(e) => return Err(("closed_before_connack", e.to_string())),
        }
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
    let fail = |cause: &str, msg: &str| {
        let key = FailureKey {
            phase: FailPhase::Hold,
            cause: cause.into(),
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
                    break fail("keepalive_timeout", "no PINGRESP within half the keep alive");
                }
                if now >= next_ping {
                    if send(&mut s, &Packet::PingReq).await.is_err() {
                        break fail("closed_by_server", "write failed while sending PINGREQ");
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
                        if send(&mut s, &p).await.is_err() {
                            break fail("closed_by_server", "write failed while publishing");
                        }
                        next_pub = Some(t + every);
                        next_ping = now + ka;
                    }
                }
            }
            r = recv(&mut s) => match r {
                Ok(Packet::PingResp) => ping_deadline = None,
                Ok(Packet::Disconnect(d)) => break fail("closed_by_server", &format!("server DISCONNECT {:#04x}", d.reason)),
                Ok(_) => {}
                Err(("reset", m)) => break fail("reset", &m),
                Err((_, m)) => break fail("closed_by_server", &m),
            },
            _ = stop.wait_for(|v| *v) => break true,
        }
    };
    if clean {
        let _ = send(
            &mut s,
            &Packet::Disconnect(mqtt::Disconnect {
                reason: 0,
                properties: mqtt::Properties::default(),
            }),
        )
        .await;
        let _ = s.stream.shutdown().await;
    }
    clean
}

/// Runs a device from its first attempt to its last.
pub(crate) async fn run(sh: Arc<Shared>, rec: Rec, d: DevicePlan) {
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
        };
        // Open loop: wait for the intended start (the scheduler already did
        // for the first attempt; reconnects wait for their backoff here).
        if intended > Instant::now() {
            sleep_until(intended).await;
        }
        // Boxed: the attempt's state (the TLS connect future among it) lives
        // only while the attempt does, not for the whole of a held session.
        let failed = match Box::pin(a.run(&d, choice, intended)).await {
            End::Aborted => return,
            End::Done => false,
            End::Failed => true,
            End::Connected(s) => {
                sh.connected.fetch_add(1, Relaxed);
                let until = (Instant::now() + g.hold).min(sh.end);
                let clean = Box::pin(hold(&a, s, until, &mut stop)).await;
                sh.connected.fetch_sub(1, Relaxed);
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
