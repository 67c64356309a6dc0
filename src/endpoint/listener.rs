//! Accept loops and the per-connection TLS phase: faults, ClientHello,
//! SNI routing, chain choice, handshake, then the listener's mode.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::Acceptor;
use rustls::AlertDescription;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::pki::ChainKind;
use crate::transport::ServerTls;

use super::broker::Broker;
use super::config::{EndpointConfig, ListenerMode, ALPN_MQTT_CA};
use super::counters::Counters;
use super::faults::{ConnFault, ConnPlan, PerClientLimit, TokenBucket};
use super::routing::{choose_chain, route, Offer, RouteError};
use super::session::{self, SessionCtx};
use super::tls::TlsConfigs;

/// State shared by every connection of an endpoint.
pub(crate) struct Shared {
    pub config: EndpointConfig,
    pub tls: TlsConfigs,
    pub counters: Arc<Counters>,
    pub broker: Arc<Broker>,
    pub account_limit: Option<Arc<TokenBucket>>,
    pub client_limit: Option<Arc<PerClientLimit>>,
    pub default_region: String,
    pub assigned_seq: Arc<AtomicU64>,
    /// Connection tasks alive (any phase), for graceful shutdown.
    pub live: AtomicI64,
    /// When the endpoint started (fault windows count from here).
    pub started: Instant,
    /// Connections that asked for an ATS chain, for the rotation's choice.
    pub rotation: super::rotation::RotationCounter,
}

/// Binds; with `reuse_port`, SO_REUSEPORT lets several processes serve one
/// port (the sharding scripts); without it a port in use is an error.
pub(crate) fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.set_reuseport(reuse_port)?;
    s.set_nodelay(true)?;
    s.bind(addr)?;
    s.listen(4096)
}

/// First and longest wait after a failed `accept`.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The alert rustls sent when a server handshake failed with `e`, as its
/// server code chooses it (rustls 0.23 `src/server/hs.rs`, `tls12.rs`,
/// `tls13.rs` at their `send_fatal_alert` calls, and the `From` impls in
/// `src/error.rs`); `None` when no alert went out (the peer's own alert, a
/// closed socket).
fn alert_sent_for(e: &rustls::Error) -> Option<AlertDescription> {
    use rustls::Error as E;
    Some(match e {
        E::InvalidMessage(m) => AlertDescription::from(*m),
        E::InvalidCertificate(c) => AlertDescription::from(c.clone()),
        E::PeerIncompatible(_) => AlertDescription::HandshakeFailure,
        E::PeerMisbehaved(_) => AlertDescription::IllegalParameter,
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            AlertDescription::UnexpectedMessage
        }
        E::NoCertificatesPresented => AlertDescription::CertificateRequired,
        E::DecryptError => AlertDescription::DecryptError,
        _ => return None,
    })
}

/// Accepts until shutdown; closes the listener during a scheduled outage.
pub(crate) async fn accept_loop(
    index: usize,
    mode: ListenerMode,
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut outage = shared.config.settings.faults.outage.map(|o| {
        (
            started + Duration::from_secs_f64(o.after_s),
            Duration::from_secs_f64(o.duration_s),
        )
    });
    let mut n: u64 = 0;
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let Some(l) = listener.as_ref() else { return };
        let outage_at = outage.map(|(at, _)| at);
        tokio::select! {
            r = l.accept() => {
                let tcp = match r {
                    Ok((tcp, _)) => {
                        backoff = ACCEPT_BACKOFF_MIN;
                        tcp
                    }
                    Err(_) => {
                        // Out of descriptors (EMFILE) and the like: retrying at
                        // once spins a core; wait, longer each time, until
                        // connections close and free descriptors.
                        shared.counters.accept_errors.fetch_add(1, Relaxed);
                        tokio::select! {
                            _ = sleep(backoff) => {}
                            _ = shutdown.changed() => return,
                        }
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                };
                let shared = shared.clone();
                let shutdown = shutdown.clone();
                let plan_n = n;
                n += 1;
                shared.live.fetch_add(1, Relaxed);
                tokio::spawn(async move {
                    let session = handle(index, plan_n, mode, tcp, &shared, shutdown).await;
                    match session {
                        // The session runs in a task of its own so that an idle
                        // connection does not keep the handshake task's state.
                        Some((tls, ctx)) => {
                            tokio::spawn(async move {
                                session::run(tls, ctx).await;
                                shared.live.fetch_sub(1, Relaxed);
                            });
                        }
                        None => {
                            shared.live.fetch_sub(1, Relaxed);
                        }
                    }
                });
            }
            _ = async { match outage_at { Some(t) => sleep_until(t).await, None => std::future::pending().await } } => {
                let (_, dur) = outage.take().expect("outage armed");
                // Closing the socket makes new connections fail with
                // ECONNREFUSED, as an endpoint that is down does.
                drop(listener.take());
                tokio::select! {
                    _ = sleep(dur) => {}
                    _ = shutdown.changed() => return,
                }
                listener = bind(addr, shared.config.reuse_port).ok();
            }
            _ = shutdown.changed() => return,
        }
    }
}

fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}

/// Writes a fatal TLS alert record by hand (the ClientHello was read, no
/// rustls connection exists yet to send it).
async fn send_alert(tcp: &mut TcpStream, desc: AlertDescription) {
    let record = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, u8::from(desc)];
    let _ = tcp.write_all(&record).await;
    let _ = tcp.shutdown().await;
}

/// A handshaken connection ready for its MQTT session.
type Ready = (ServerTls, SessionCtx);

/// The TLS phase of one connection; `Some` when an MQTT session follows.
async fn handle(
    index: usize,
    n: u64,
    mode: ListenerMode,
    tcp: TcpStream,
    shared: &Shared,
    mut shutdown: watch::Receiver<bool>,
) -> Option<Ready> {
    let c = &shared.counters;
    c.accepted.fetch_add(1, Relaxed);
    let plan = shared.config.settings.faults.plan(index, n);
    let _ = tcp.set_nodelay(true);
    let mut tcp = before_hello(plan.fault, tcp, c, &mut shutdown).await?;
    let (start, raw) = read_hello(&mut tcp, shared).await?;
    if plan.fault == ConnFault::Reset {
        reset(tcp, c);
        return None;
    }
    let kind = pick_chain(&start, &mut tcp, shared).await?;
    delay(&plan, shared).await;
    drop(start);
    let tls = accept_tls(shared, kind, mode, tcp, raw).await?;
    after_handshake(tls, kind, mode, plan, shared, shutdown).await
}

/// The faults that act before the ClientHello is read: a refusal (FIN,
/// then drain) or a stall. `None`: the connection is done.
async fn before_hello(
    fault: ConnFault,
    tcp: TcpStream,
    c: &Counters,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<TcpStream> {
    match fault {
        ConnFault::Refuse => {
            c.refused.fetch_add(1, Relaxed);
            // Close with a FIN, then drain until the client closes: dropping a
            // socket with unread data (the ClientHello) would send a RST and
            // make a refusal look like a reset.
            let mut tcp = tcp;
            let _ = tcp.shutdown().await;
            let mut sink = [0u8; 1024];
            let drain = async {
                loop {
                    match tokio::io::AsyncReadExt::read(&mut tcp, &mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            };
            let _ = timeout(Duration::from_secs(5), drain).await;
            None
        }
        ConnFault::Stall => {
            c.stalled.fetch_add(1, Relaxed);
            // Hold the socket open and silent; bounded so nothing lives forever.
            tokio::select! {
                _ = sleep(Duration::from_secs(300)) => {}
                _ = shutdown.changed() => {}
            }
            None
        }
        ConnFault::Reset | ConnFault::None => Some(tcp),
    }
}

/// The ClientHello within the handshake timeout (a malformed one gets the
/// alert rustls chose), with the bytes read; counts max_fragment_length offers.
async fn read_hello(
    tcp: &mut TcpStream,
    shared: &Shared,
) -> Option<(rustls::server::Accepted, Vec<u8>)> {
    let c = &shared.counters;
    let (start, raw) =
        match timeout(shared.config.handshake_timeout(), read_client_hello(tcp)).await {
            Ok(Ok(read)) => read,
            Ok(Err(alert)) => {
                c.handshake_failed.fetch_add(1, Relaxed);
                if let Some(bytes) = alert {
                    let _ = tcp.write_all(&bytes).await;
                }
                return None;
            }
            Err(_) => {
                c.handshake_failed.fetch_add(1, Relaxed);
                return None;
            }
        };
    if offers_max_fragment_length(&raw) {
        c.mfl_offered.fetch_add(1, Relaxed);
    }
    Some((start, raw))
}

/// The reset fault: close with RST after the ClientHello.
fn reset(tcp: TcpStream, c: &Counters) {
    c.reset.fetch_add(1, Relaxed);
    // Linger 0: close() sends RST instead of FIN. (tokio deprecates
    // set_linger because a non-zero linger blocks on drop; zero does not.)
    #[allow(deprecated)]
    let _ = tcp.set_linger(Some(Duration::ZERO));
    drop(tcp);
}

/// Routes the SNI and picks the chain to serve (the client's offer, the key
/// preference, a broken variant, then the rotation); an unknown name gets
/// its alert and `None`.
async fn pick_chain(
    start: &rustls::server::Accepted,
    tcp: &mut TcpStream,
    shared: &Shared,
) -> Option<ChainKind> {
    let (c, cfg) = (&shared.counters, &shared.config);
    let hello = start.client_hello();
    let routed = route(
        hello.server_name(),
        cfg.account_prefix.as_deref(),
        cfg.require_sni,
        &shared.default_region,
    );
    let kind = match &routed {
        Ok(r) => choose_chain(
            r,
            &Offer {
                schemes: hello.signature_schemes(),
                suites: hello.cipher_suites(),
                tls13_allowed: cfg.settings.security_policy.tls13(),
            },
            cfg.settings.key_preference,
            cfg.settings.faults.broken_chain,
        ),
        Err(e) => {
            c.unknown_name.fetch_add(1, Relaxed);
            let desc = match e {
                RouteError::NoSni => AlertDescription::HandshakeFailure,
                RouteError::UnknownName(_) => AlertDescription::UnrecognisedName,
            };
            c.alert_sent(desc);
            send_alert(tcp, desc).await;
            return None;
        }
    };
    if cfg.settings.faults.broken_chain.is_some() {
        return Some(kind);
    }
    let rotation = &cfg.settings.rotation;
    let n = shared.rotation.next();
    let i = rotation.pick(n, shared.started.elapsed());
    Some(rotation.chain_for(kind, i, n))
}

/// The handshake delay and pause faults, before the server's flight.
async fn delay(plan: &ConnPlan, shared: &Shared) {
    if let Some(d) = plan.handshake_delay {
        sleep(d).await;
    }
    if let Some(p) = shared.config.settings.faults.pause {
        let from = shared.started + Duration::from_secs_f64(p.after_s);
        let to = from + Duration::from_secs_f64(p.duration_s);
        let now = Instant::now();
        if now >= from && now < to {
            sleep_until(to).await;
        }
    }
}

/// Completes the handshake with the chosen chain's configuration, counting
/// the alert either side sent when it fails.
async fn accept_tls(
    shared: &Shared,
    kind: ChainKind,
    mode: ListenerMode,
    tcp: TcpStream,
    raw: Vec<u8>,
) -> Option<ServerTls> {
    let c = &shared.counters;
    let Some(server_config) = shared.tls.get(kind, mode) else {
        c.handshake_failed.fetch_add(1, Relaxed);
        return None;
    };
    let accept = ServerTls::accept(server_config, tcp, raw);
    match Box::pin(timeout(shared.config.handshake_timeout(), accept)).await {
        Ok(Ok(t)) => Some(t),
        Ok(Err(e)) => {
            c.handshake_failed.fetch_add(1, Relaxed);
            match rustls_error(&e) {
                Some(rustls::Error::AlertReceived(d)) => c.alert_received(*d),
                Some(other) => {
                    if let Some(d) = alert_sent_for(other) {
                        c.alert_sent(d);
                    }
                }
                None => {}
            }
            None
        }
        Err(_) => {
            c.handshake_failed.fetch_add(1, Relaxed);
            None
        }
    }
}

/// Counts the handshake, then by listener: close (TLS only), the port-443
/// behaviour without the MQTT ALPN, or the MQTT session's context (the held
/// connection sheds rustls for its traffic keys).
async fn after_handshake(
    tls: ServerTls,
    kind: ChainKind,
    mode: ListenerMode,
    plan: ConnPlan,
    shared: &Shared,
    shutdown: watch::Receiver<bool>,
) -> Option<Ready> {
    let (c, cfg) = (&shared.counters, &shared.config);
    let conn = tls.common()?;
    let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    c.handshake(kind, tls13);
    if conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
        c.resumed.fetch_add(1, Relaxed);
    }
    let alpn_ok = conn.alpn_protocol() == Some(ALPN_MQTT_CA);
    // The device identity (mutual TLS): the client certificate's CN.
    let identity = || {
        conn.peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| crate::pki::describe_cert(c.as_ref()).ok())
            .and_then(|s| s.common_name)
    };
    let identity = (mode != ListenerMode::TlsOnly).then(identity).flatten();
    let mut tls = tls;
    match mode {
        ListenerMode::TlsOnly => {
            let _ = tls.shutdown().await;
            None
        }
        ListenerMode::MqttAlpn if !alpn_ok => {
            c.alpn_rejected.fetch_add(1, Relaxed);
            if cfg.no_alpn == super::config::NoAlpn::Silent {
                // Port 443 without x-amzn-mqtt-ca is HTTPS to AWS: an MQTT
                // CONNECT gets no answer and the device times out waiting
                // for CONNACK. Read and drop, bounded, until it gives up.
                silent(&mut tls, shutdown).await;
            }
            let _ = tls.shutdown().await;
            None
        }
        ListenerMode::Mqtt | ListenerMode::MqttAlpn => {
            let ctx = SessionCtx {
                broker: shared.broker.clone(),
                counters: shared.counters.clone(),
                limits: cfg.mqtt.clone(),
                plan,
                account_limit: shared.account_limit.clone(),
                client_limit: shared.client_limit.clone(),
                shutdown,
                assigned_seq: shared.assigned_seq.clone(),
                identity,
            };
            // A session may be held for hours: keep its traffic keys, not
            // the rustls state (if rustls declines, it holds on rustls).
            let _ = tls.shed();
            Some((tls, ctx))
        }
    }
}

/// Reads until rustls' `Acceptor` holds a whole ClientHello (routing reads
/// the hello from it before a configuration is chosen). Returns it with the
/// bytes read, which the connection chosen afterwards is fed in turn. On a
/// malformed hello, `Err` carries the alert rustls wrote, if any.
async fn read_client_hello(
    tcp: &mut TcpStream,
) -> Result<(rustls::server::Accepted, Vec<u8>), Option<Vec<u8>>> {
    /// rustls' own bound on a handshake message, plus its record headers.
    const MAX_HELLO: usize = 0xffff + 1024;
    let mut acceptor = Acceptor::default();
    let mut raw = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; 4096];
    loop {
        let n = tcp.read(&mut chunk).await.map_err(|_| None)?;
        if n == 0 || raw.len() + n > MAX_HELLO {
            return Err(None);
        }
        raw.extend_from_slice(&chunk[..n]);
        let mut fresh = &chunk[..n];
        while !fresh.is_empty() {
            match acceptor.read_tls(&mut fresh) {
                Ok(0) | Err(_) => return Err(None),
                Ok(_) => {}
            }
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => return Ok((accepted, raw)),
            Ok(None) => {}
            Err((_, mut alert)) => {
                let mut bytes = Vec::new();
                let _ = alert.write_all(&mut bytes);
                return Err(Some(bytes));
            }
        }
    }
}

/// Whether the ClientHello in `raw` offers max_fragment_length. rustls
/// ignores the extension, as AWS IoT does; the endpoint only counts the
/// offers. Only the first record is read: a ClientHello split over several
/// records is not counted.
fn offers_max_fragment_length(raw: &[u8]) -> bool {
    use crate::wire::client_hello::{ext, ClientHello};
    let len = raw
        .get(3..5)
        .map(|l| 5 + usize::from(u16::from_be_bytes([l[0], l[1]])))
        .unwrap_or(usize::MAX);
    raw.get(..len)
        .and_then(|r| ClientHello::parse(r).ok())
        .is_some_and(|h| {
            h.extensions
                .iter()
                .any(|e| e.typ == ext::MAX_FRAGMENT_LENGTH)
        })
}

/// Reads and drops what the client sends until it closes, 120 s pass, or
/// the endpoint shuts down.
async fn silent<S: tokio::io::AsyncRead + Unpin>(s: &mut S, mut shutdown: watch::Receiver<bool>) {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 1024];
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        tokio::select! {
            r = s.read(&mut sink) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = sleep_until(until) => return,
            _ = shutdown.changed() => return,
        }
    }
}
