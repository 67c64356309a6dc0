//! A small TLS + MQTT test client (real sockets, real rustls), independent
//! of the load engine so endpoint tests do not depend on it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chainstorm::client::{ClientAuth, ClientOptions, KeyOffer};
use chainstorm::mqtt::{self, Connect, Packet, Protocol};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Client options.
#[derive(Default)]
pub struct Opts {
    pub roots: Vec<CertificateDer<'static>>,
    pub alpn: Option<Vec<u8>>,
    pub client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    pub tls12_only: bool,
    pub ecdsa_only: bool,
    pub resumption: Option<Arc<dyn rustls::client::ClientSessionStore>>,
}

/// A client that verifies with plain webpki over `o.roots` (not the
/// project's verifier, so endpoint tests check the endpoint against an
/// independent judge), built by the project's one configuration builder.
pub fn client_config(o: &Opts) -> ClientConfig {
    let opts = ClientOptions {
        offer: chainstorm::client::Offer {
            tls13: !o.tls12_only,
            schemes: if o.ecdsa_only {
                KeyOffer::EcdsaOnly
            } else {
                KeyOffer::Any
            },
            ..Default::default()
        },
        alpn: o
            .alpn
            .as_ref()
            .map(|a| String::from_utf8(a.clone()).expect("ALPN is text in tests")),
        client_auth: match &o.client_cert {
            Some((c, k)) => ClientAuth::Fixed(
                chainstorm::client::certified_key(c.clone(), k.clone_key()).unwrap(),
            ),
            None => ClientAuth::None,
        },
        resumption: Some(match &o.resumption {
            Some(store) => rustls::client::Resumption::store(store.clone()),
            None => rustls::client::Resumption::disabled(),
        }),
        ..ClientOptions::default()
    };
    let mut roots = RootCertStore::empty();
    for r in &o.roots {
        roots.add(r.clone()).unwrap();
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        opts.provider(),
    )
    .build()
    .unwrap();
    opts.build(verifier).unwrap()
}

pub async fn tls(addr: SocketAddr, sni: &str, o: &Opts) -> std::io::Result<TlsStream<TcpStream>> {
    tls_with(addr, sni, Arc::new(client_config(o))).await
}

/// Connects with a prebuilt configuration (resumption needs the same one:
/// rustls only offers a ticket to a config with the same verifier).
pub async fn tls_with(
    addr: SocketAddr,
    sni: &str,
    cfg: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let connector = TlsConnector::from(cfg);
    let name = ServerName::try_from(sni.to_string()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timeout"))?
}

pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}

/// An MQTT connection over any stream.
pub struct Mqtt<S> {
    pub stream: S,
    buf: BytesMut,
    pub protocol: Protocol,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Mqtt<S> {
    pub fn new(stream: S, protocol: Protocol) -> Self {
        Mqtt {
            stream,
            buf: BytesMut::new(),
            protocol,
        }
    }

    pub async fn send(&mut self, p: &Packet) {
        let mut out = BytesMut::new();
        mqtt::encode(p, self.protocol, &mut out);
        self.stream.write_all(&out).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    pub async fn send_raw(&mut self, b: &[u8]) {
        let _ = self.stream.write_all(b).await;
        let _ = self.stream.flush().await;
    }

    /// The next packet, or `None` when the server closed (or nothing came in `wait`).
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Packet> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Ok(Some(d)) = mqtt::decode(&self.buf, self.protocol, 1 << 20) {
                let _ = self.buf.split_to(d.len);
                return Some(d.packet);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    pub async fn recv(&mut self) -> Option<Packet> {
        self.recv_within(Duration::from_secs(5)).await
    }

    /// True when the server has closed the connection (EOF or reset) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut b = [0u8; 64];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// CONNECT, then the CONNACK code (`None`: closed without CONNACK).
    pub async fn connect(&mut self, c: Connect) -> Option<mqtt::ConnAck> {
        self.send(&Packet::Connect(c)).await;
        match self.recv().await {
            Some(Packet::ConnAck(a)) => Some(a),
            _ => None,
        }
    }
}
