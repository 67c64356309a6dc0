//! [`TlsStream`]: a TCP socket and an unbuffered rustls connection, as
//! `AsyncRead + AsyncWrite`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustls::client::UnbufferedClientConnection;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus, WriteTraffic};
use rustls::{ClientConfig, CommonState, ServerConfig};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::count::WireCount;
use super::record::{content, Keys, Opened, RecordError};
use super::scratch::with_scratch;
use super::shaped::LinkIo;
use crate::link::Shaper;

/// What the client's and the server's unbuffered connections share.
pub trait Side {
    /// The side's connection data.
    type Data;
    /// [`rustls::unbuffered`]'s `process_tls_records`.
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
    /// What was negotiated (version, ALPN, peer certificates, …).
    fn common(&self) -> &CommonState;
    /// rustls' `dangerous_extract_secrets`.
    fn extract(self) -> Result<rustls::ExtractedSecrets, rustls::Error>;
}

/// Both sides implement [`Side`] the same way; rustls has no trait over
/// its two unbuffered connection types.
macro_rules! impl_side {
    ($conn:ty, $data:ty) => {
        impl Side for $conn {
            type Data = $data;
            fn process<'c, 'i>(
                &'c mut self,
                incoming: &'i mut [u8],
            ) -> UnbufferedStatus<'c, 'i, Self::Data> {
                self.process_tls_records(incoming)
            }
            fn common(&self) -> &CommonState {
                self
            }
            // The replacement rustls suggests, `dangerous_into_kernel_connection`,
            // keeps the peer's certificate chain: the very bytes shedding is for.
            #[allow(deprecated)]
            fn extract(self) -> Result<rustls::ExtractedSecrets, rustls::Error> {
                self.dangerous_extract_secrets()
            }
        }
    };
}

impl_side!(
    UnbufferedClientConnection,
    rustls::client::ClientConnectionData
);
impl_side!(
    UnbufferedServerConnection,
    rustls::server::ServerConnectionData
);

/// Where the connection stopped after consuming what it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The handshake needs more bytes from the peer.
    NeedInput,
    /// The handshake is done; application data flows.
    Traffic,
    /// Both sides sent close_notify.
    Closed,
}

/// The bytes a connection holds. Each buffer is allocated only while it
/// holds something, so an idle connection costs its rustls state alone.
#[derive(Default)]
struct Buffers {
    /// Received TLS bytes not consumed yet (a partial record, or a
    /// handshake message rustls is still joining). Offsets rustls keeps
    /// refer to the front of this buffer.
    pending_in: Vec<u8>,
    /// Decrypted bytes the caller has not read, from `plain_at`.
    plain: Vec<u8>,
    plain_at: usize,
    /// TLS bytes to send, from `out_at`: the flight being built during the
    /// handshake, then what the socket did not take.
    out: Vec<u8>,
    out_at: usize,
    /// The peer sent close_notify.
    peer_closed: bool,
    /// TCP end of stream.
    eof: bool,
    /// Our close_notify is queued.
    close_queued: bool,
}

/// Room to ask for before encoding; rustls says when it needs more.
const ENCODE_GUESS: usize = 1_024;

/// Stop accepting plaintext while this much ciphertext waits for the socket.
const HIGH_WATER: usize = 64 * 1024;

/// Largest plaintext taken per `poll_write` (one record's worth).
const MAX_PLAIN_PER_WRITE: usize = 16_384;

/// Appends what `f` writes to `out`, growing the room when `f` reports
/// (as `Err(Some(required))`) that it needs more.
fn append(
    out: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
) -> Result<(), ()> {
    let start = out.len();
    let mut room = ENCODE_GUESS;
    loop {
        out.resize(start + room, 0);
        match f(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(Some(required)) if required > room => room = required,
            Err(_) => {
                out.truncate(start);
                return Err(());
            }
        }
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Feeds `incoming` to `conn` until it needs more bytes from the peer:
/// plaintext goes to `b.plain`, records to send to `b.out`. Returns the
/// bytes consumed from the front of `incoming` and where it stopped.
fn drive<C: Side>(
    conn: &mut C,
    incoming: &mut [u8],
    b: &mut Buffers,
) -> Result<(usize, Step), rustls::Error> {
    let mut used = 0;
    loop {
        let UnbufferedStatus { mut discard, state } = conn.process(&mut incoming[used..]);
        let state = match state {
            Ok(s) => s,
            Err(e) => {
                queue_alert(conn, &mut incoming[used..], b);
                return Err(e);
            }
        };
        match state {
            ConnectionState::ReadTraffic(mut r) => {
                while let Some(rec) = r.next_record() {
                    let rec = rec?;
                    discard += rec.discard;
                    b.plain.extend_from_slice(rec.payload);
                }
            }
            ConnectionState::EncodeTlsData(mut e) => {
                let encoded = append(&mut b.out, |buf| {
                    e.encode(buf).map_err(|err| match err {
                        rustls::unbuffered::EncodeError::InsufficientSize(s) => {
                            Some(s.required_size)
                        }
                        _ => None,
                    })
                });
                if encoded.is_err() {
                    return Err(rustls::Error::General(
                        "encoding a TLS record failed".into(),
                    ));
                }
            }
            // The bytes stay in `b.out`: they go with the rest of the flight
            // when the connection next waits for the peer, or with the
            // caller's first write.
            ConnectionState::TransmitTlsData(t) => t.done(),
            ConnectionState::BlockedHandshake => return Ok((used + discard, Step::NeedInput)),
            ConnectionState::WriteTraffic(_) => return Ok((used + discard, Step::Traffic)),
            ConnectionState::PeerClosed => b.peer_closed = true,
            ConnectionState::Closed => {
                b.peer_closed = true;
                return Ok((used + discard, Step::Closed));
            }
            _ => return Err(rustls::Error::General("unexpected early data".into())),
        }
        used += discard;
    }
}

/// Opens every complete record at the front of `buf` with the shed keys;
/// returns the bytes consumed.
fn open_all(keys: &mut Keys, buf: &mut [u8], b: &mut Buffers) -> Result<usize, RecordError> {
    let mut used = 0;
    while let Some(len) = Keys::complete_record(&buf[used..]) {
        let rec = &mut buf[used..used + len];
        match keys.open(rec)? {
            Opened::Data(r) => b.plain.extend_from_slice(&rec[r]),
            Opened::CloseNotify => b.peer_closed = true,
            Opened::Nothing => {}
        }
        used += len;
    }
    Ok(used)
}

/// After an error, collects the alert rustls queued for it (if any) into
/// `b.out`. The same buffer is passed again: rustls may still hold offsets
/// into it, so an empty one would not do.
fn queue_alert<C: Side>(conn: &mut C, incoming: &mut [u8], b: &mut Buffers) {
    let UnbufferedStatus { state, .. } = conn.process(incoming);
    if let Ok(ConnectionState::EncodeTlsData(mut e)) = state {
        let _ = append(&mut b.out, |buf| e.encode(buf).map_err(|_| None));
    }
}

/// A TCP socket with a TLS connection on rustls' unbuffered API.
///
/// Reads go through the thread's scratch buffer; writes are encrypted into
/// the connection's out buffer and written at once, except that a flight of
/// the handshake is held until the connection waits for the peer or the
/// caller writes. So a TLS 1.3 client's CCS and Finished leave together
/// with its first application data (MQTT CONNECT, or the close_notify of a
/// handshake-only attempt): one segment instead of three.
pub struct TlsStream<C> {
    tcp: TcpStream,
    /// The rustls connection until [`TlsStream::shed`] (boxed: so a shed
    /// stream does not keep its size inline).
    conn: Option<Box<C>>,
    /// The traffic keys after [`TlsStream::shed`].
    keys: Option<Box<Keys>>,
    b: Buffers,
    /// Bytes, records and flights so far.
    wire: WireCount,
    /// The emulated link, for a device on one.
    link: Option<Box<LinkIo>>,
}

impl TlsStream<UnbufferedClientConnection> {
    /// Runs a client handshake on `tcp`. The client's last flight is sent
    /// with its first write, flush, shutdown or read: a caller that waits
    /// for the server's side of the handshake to end before doing any of
    /// those must flush first.
    pub async fn connect(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        tcp: TcpStream,
    ) -> io::Result<Self> {
        Self::connect_over(config, name, tcp, None).await
    }

    /// [`TlsStream::connect`] over an emulated link: every flight, this
    /// handshake's and later traffic's, arrives when `link` says.
    pub async fn connect_over(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        tcp: TcpStream,
        link: Option<Shaper>,
    ) -> io::Result<Self> {
        let conn = UnbufferedClientConnection::new(config, name).map_err(tls_error)?;
        let mut s = TlsStream {
            tcp,
            conn: Some(Box::new(conn)),
            keys: None,
            b: Buffers::default(),
            wire: WireCount::default(),
            link: link.map(|l| Box::new(LinkIo::new(l))),
        };
        s.handshake().await?;
        Ok(s)
    }
}

impl TlsStream<UnbufferedServerConnection> {
    /// Runs a server handshake on `tcp`; `received` are bytes already read
    /// from it (the ClientHello the endpoint inspected first).
    pub async fn accept(
        config: Arc<ServerConfig>,
        tcp: TcpStream,
        received: Vec<u8>,
    ) -> io::Result<Self> {
        let conn = UnbufferedServerConnection::new(config).map_err(tls_error)?;
        let mut s = TlsStream {
            tcp,
            conn: Some(Box::new(conn)),
            keys: None,
            b: Buffers {
                pending_in: received,
                ..Buffers::default()
            },
            wire: WireCount::default(),
            link: None,
        };
        s.handshake().await?;
        Ok(s)
    }
}

impl<C: Side> TlsStream<C> {
    /// What was negotiated; `None` once shed.
    pub fn common(&self) -> Option<&CommonState> {
        self.conn.as_deref().map(Side::common)
    }

    /// Bytes, records and flights so far, counting what is queued as sent
    /// (a TLS 1.3 client's last flight waits for its first write).
    pub fn wire(&self) -> WireCount {
        self.wire.with_pending(&self.b.out[self.b.out_at..])
    }

    /// Retransmissions the emulated link charged (0 without one).
    pub fn retransmits(&self) -> u32 {
        self.link.as_ref().map_or(0, |l| l.shaper.retransmits())
    }

    /// Drops the rustls connection and keeps only its traffic keys: a held
    /// connection then costs two AEAD keys instead of a rustls state with
    /// the peer's certificate chain. Afterwards only application data,
    /// close_notify, NewSessionTicket (skipped) and warning alerts are
    /// understood; a KeyUpdate from the peer ends the stream with an error.
    /// The client config needs `enable_secret_extraction`.
    pub fn shed(&mut self) -> Result<(), RecordError> {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        let version = conn.common().protocol_version();
        let secrets = (*conn)
            .extract()
            .map_err(|e| RecordError::Extract(e.to_string()))?;
        self.keys = Some(Box::new(Keys::new(secrets, version)?));
        Ok(())
    }

    async fn handshake(&mut self) -> io::Result<()> {
        let mut step = self.drive_pending()?;
        loop {
            match step {
                Step::Traffic => return Ok(()),
                Step::Closed => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed during the handshake",
                    ))
                }
                Step::NeedInput => {
                    std::future::poll_fn(|cx| self.poll_send(cx)).await?;
                    step = std::future::poll_fn(|cx| self.poll_input(cx)).await?;
                    if self.b.eof && step == Step::NeedInput {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "tls handshake eof",
                        ));
                    }
                }
            }
        }
    }

    /// Drives the connection over the bytes it already holds.
    fn drive_pending(&mut self) -> io::Result<Step> {
        let mut pending = std::mem::take(&mut self.b.pending_in);
        let r = self.consume(&mut pending);
        if let Ok((used, _)) = r {
            pending.drain(..used);
            self.b.pending_in = pending;
        }
        r.map(|(_, step)| step)
    }

    /// Feeds `buf` to rustls, or to the keys once shed; returns the bytes
    /// consumed from its front.
    fn consume(&mut self, buf: &mut [u8]) -> io::Result<(usize, Step)> {
        if let Some(keys) = self.keys.as_deref_mut() {
            let used = open_all(keys, buf, &mut self.b)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            return Ok((used, Step::Traffic));
        }
        let Some(conn) = self.conn.as_deref_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        drive(conn, buf, &mut self.b).map_err(|e| self.fail(e))
    }

    /// Turns a rustls error into an I/O error, first sending (best effort,
    /// without waiting) what is queued: the alert rustls wrote for it.
    fn fail(&mut self, e: rustls::Error) -> io::Error {
        let _ = self.tcp.try_write(&self.b.out[self.b.out_at..]);
        self.b.out = Vec::new();
        self.b.out_at = 0;
        tls_error(e)
    }

    /// Writes the out buffer until it is empty or the socket is full.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.b.out_at < self.b.out.len() {
            let pending = self.b.out.len() - self.b.out_at;
            // On an emulated link the bytes go when they would have arrived.
            let allowed = match self.link.as_deref_mut() {
                Some(l) => ready!(l.poll_release(cx, pending)),
                None => pending,
            };
            let out = &self.b.out[self.b.out_at..self.b.out_at + allowed];
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wire.sent(&out[..n]);
            if let Some(l) = self.link.as_deref_mut() {
                l.wrote(n);
            }
            self.b.out_at += n;
        }
        if self.b.out.capacity() > 0 {
            self.b.out = Vec::new();
            self.b.out_at = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads what the socket has and feeds it to the connection.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Step>> {
        if self.link.is_some() {
            return self.poll_input_over_link(cx);
        }
        loop {
            ready!(self.tcp.poll_read_ready(cx))?;
            match with_scratch(|s| self.read_and_drive(s)) {
                // try_read cleared the readiness: wait again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    /// [`Self::poll_input`] on an emulated link: bytes read are held until
    /// they arrive; reading resumes once they are taken in.
    fn poll_input_over_link(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Step>> {
        loop {
            let link = self.link.as_deref_mut().expect("called with a link");
            if let Some(mut bytes) = ready!(link.poll_arrived(cx)) {
                return Poll::Ready(self.take_in(&mut bytes));
            }
            ready!(self.tcp.poll_read_ready(cx))?;
            let read = with_scratch(|s| self.tcp.try_read(s).map(|n| s[..n].to_vec()));
            match read {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
                Ok(bytes) if bytes.is_empty() => {
                    self.b.eof = true;
                    return Poll::Ready(Ok(Step::NeedInput));
                }
                Ok(bytes) => {
                    let link = self.link.as_deref_mut().expect("called with a link");
                    debug_assert!(!link.holding());
                    link.hold(bytes);
                }
            }
        }
    }

    fn read_and_drive(&mut self, scratch: &mut [u8]) -> io::Result<Step> {
        let n = self.tcp.try_read(scratch)?;
        if n == 0 {
            self.b.eof = true;
            return Ok(Step::NeedInput);
        }
        self.take_in(&mut scratch[..n])
    }

    /// Bytes that reached this end: counted, then fed to the connection
    /// (after a waiting partial record, if there is one).
    fn take_in(&mut self, bytes: &mut [u8]) -> io::Result<Step> {
        self.wire.received(bytes);
        if !self.b.pending_in.is_empty() {
            // A partial record is waiting: append, and drive from the front.
            self.b.pending_in.extend_from_slice(bytes);
            return self.drive_pending();
        }
        let (used, step) = self.consume(bytes)?;
        self.b.pending_in.extend_from_slice(&bytes[used..]);
        Ok(step)
    }

    /// Runs `f` in the traffic state (after any records rustls wants sent
    /// first) with the out buffer.
    fn with_traffic(
        &mut self,
        mut f: impl FnMut(&mut WriteTraffic<'_, C::Data>, &mut [u8]) -> Result<usize, Option<usize>>,
    ) -> io::Result<()> {
        let Some(conn) = self.conn.as_deref_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let mut pending = std::mem::take(&mut self.b.pending_in);
        let mut consumed = 0;
        let r = loop {
            let UnbufferedStatus { discard, state } = conn.process(&mut pending[consumed..]);
            // Nothing complete is left in `pending` between calls; should
            // rustls still consume something, it is dropped in order.
            consumed += discard;
            match state {
                Ok(ConnectionState::WriteTraffic(mut w)) => {
                    break append(&mut self.b.out, |buf| f(&mut w, buf))
                        .map_err(|()| io::Error::other("encrypting a TLS record failed"));
                }
                Ok(ConnectionState::EncodeTlsData(mut e)) => {
                    let _ = append(&mut self.b.out, |buf| e.encode(buf).map_err(|_| None));
                }
                Ok(ConnectionState::TransmitTlsData(t)) => t.done(),
                Ok(_) => {
                    break Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the TLS connection is not ready for application data",
                    ))
                }
                Err(e) => break Err(tls_error(e)),
            }
        };
        pending.drain(..consumed);
        self.b.pending_in = pending;
        r
    }
}

fn needs(required: rustls::unbuffered::EncryptError) -> Option<usize> {
    match required {
        rustls::unbuffered::EncryptError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    }
}

impl<C: Side + Unpin> AsyncRead for TlsStream<C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            let b = &mut me.b;
            if b.plain_at < b.plain.len() {
                let n = buf.remaining().min(b.plain.len() - b.plain_at);
                buf.put_slice(&b.plain[b.plain_at..b.plain_at + n]);
                b.plain_at += n;
                if b.plain_at == b.plain.len() {
                    b.plain = Vec::new();
                    b.plain_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if b.peer_closed {
                return Poll::Ready(Ok(()));
            }
            if b.eof {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed connection without sending TLS close_notify",
                )));
            }
            // Whatever is queued goes before we wait for an answer to it.
            ready!(me.poll_send(cx))?;
            ready!(me.poll_input(cx))?;
        }
    }
}

impl<C: Side + Unpin> AsyncWrite for TlsStream<C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.b.out.len() - me.b.out_at >= HIGH_WATER {
            ready!(me.poll_send(cx))?;
        }
        let data = &data[..data.len().min(MAX_PLAIN_PER_WRITE)];
        match me.keys.as_deref_mut() {
            Some(keys) => keys.seal(content::APPLICATION_DATA, data, &mut me.b.out),
            None => me.with_traffic(|w, buf| w.encrypt(data, buf).map_err(needs))?,
        }
        // Start sending now; what the socket does not take waits for the
        // next write or flush.
        if let Poll::Ready(Err(e)) = me.poll_send(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_send(cx)
    }

    /// Sends close_notify with anything still queued. The TCP socket is not
    /// shut down: close_notify already ends the stream for the peer, and
    /// dropping the stream sends the FIN without another system call.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.b.close_queued {
            me.b.close_queued = true;
            match me.keys.as_deref_mut() {
                Some(keys) => keys.seal(content::ALERT, &[1, 0], &mut me.b.out),
                None => me.with_traffic(|w, buf| w.queue_close_notify(buf).map_err(needs))?,
            }
        }
        me.poll_send(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn configs(tls12: bool) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
        configs_with(tls12, None)
    }

    fn configs_with(
        tls12: bool,
        suite: Option<rustls::SupportedCipherSuite>,
    ) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["t.example".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = CertificateDer::from(cert.der().to_vec());
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if let Some(suite) = suite {
            provider.cipher_suites = vec![suite];
        }
        let provider = Arc::new(provider);
        let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der).unwrap();
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.enable_secret_extraction = true;
        (Arc::new(client), Arc::new(server))
    }

    /// Both ends on this module's stream: 200 kB each way in odd-sized
    /// writes (records split across reads, plaintext larger than the
    /// caller's buffer), then close_notify reads as end of stream.
    async fn echo(tls12: bool) {
        let (client, server) = configs(tls12);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expect = payload.clone();
        let srv = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = TlsStream::accept(server, tcp, Vec::new()).await.unwrap();
            let mut got = vec![0u8; expect.len()];
            s.read_exact(&mut got).await.unwrap();
            assert!(got == expect, "the server read what the client wrote");
            s.write_all(&got).await.unwrap();
            s.shutdown().await.unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("t.example").unwrap();
        let mut c = TlsStream::connect(client, name, tcp).await.unwrap();
        let version = c.common().unwrap().protocol_version();
        assert_eq!(
            version,
            Some(if tls12 {
                rustls::ProtocolVersion::TLSv1_2
            } else {
                rustls::ProtocolVersion::TLSv1_3
            })
        );
        for chunk in payload.chunks(7_777) {
            c.write_all(chunk).await.unwrap();
        }
        c.flush().await.unwrap();
        let mut back = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = c.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert!(back == payload, "the echo came back whole");
        c.shutdown().await.unwrap();
        srv.await.unwrap();
    }

    /// The client sheds its rustls connection after one exchange and goes
    /// on with its own record layer; the server stays on rustls, so every
    /// record either way is checked by rustls' implementation: several
    /// records, one larger than a fragment, a close_notify each way.
    async fn shed_then_echo(tls12: bool, suite: rustls::SupportedCipherSuite) {
        let (client, server) = configs_with(tls12, Some(suite));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let srv = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = TlsStream::accept(server, tcp, Vec::new()).await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
            s.shutdown().await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("t.example").unwrap();
        let mut c = TlsStream::connect(client, name, tcp).await.unwrap();
        let mut one = [0u8; 5];
        c.write_all(b"hello").await.unwrap();
        c.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"hello");
        c.shed().unwrap();
        assert!(c.common().is_none(), "rustls is gone");
        for len in [1usize, 300, 16_384, 40_000] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            c.write_all(&msg).await.unwrap();
            let mut back = vec![0u8; len];
            c.read_exact(&mut back).await.unwrap();
            assert!(back == msg, "{len} bytes came back");
        }
        c.shutdown().await.unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "close_notify ends the stream");
        srv.await.unwrap();
    }

    #[tokio::test]
    async fn shed_tls13_aes128() {
        use rustls::crypto::aws_lc_rs::cipher_suite as cs;
        shed_then_echo(false, cs::TLS13_AES_128_GCM_SHA256).await;
    }

    #[tokio::test]
    async fn shed_tls13_aes256_and_chacha() {
        use rustls::crypto::aws_lc_rs::cipher_suite as cs;
        shed_then_echo(false, cs::TLS13_AES_256_GCM_SHA384).await;
        shed_then_echo(false, cs::TLS13_CHACHA20_POLY1305_SHA256).await;
    }

    #[tokio::test]
    async fn shed_tls12_gcm_and_chacha() {
        use rustls::crypto::aws_lc_rs::cipher_suite as cs;
        shed_then_echo(true, cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).await;
        shed_then_echo(true, cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384).await;
        shed_then_echo(true, cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256).await;
    }

    #[tokio::test]
    async fn tls13_echo_and_close_notify() {
        echo(false).await;
    }

    #[tokio::test]
    async fn tls12_echo_and_close_notify() {
        echo(true).await;
    }

    /// A verifier rejection reaches the peer as an alert, and the client's
    /// error is the rustls error (what `client::handshake_failure` reads).
    #[tokio::test]
    async fn a_rejected_certificate_sends_an_alert() {
        let (_, server) = configs(false);
        let (other_client, _) = configs(false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let srv = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            TlsStream::accept(server, tcp, Vec::new())
                .await
                .err()
                .unwrap()
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("t.example").unwrap();
        let e = TlsStream::connect(other_client, name, tcp)
            .await
            .err()
            .unwrap();
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        assert!(
            matches!(inner, Some(rustls::Error::InvalidCertificate(_))),
            "{e}"
        );
        let server_err = srv.await.unwrap();
        let inner = server_err
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        assert!(
            matches!(inner, Some(rustls::Error::AlertReceived(_))),
            "{server_err}"
        );
    }
}
