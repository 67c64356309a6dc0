//! Opens N MQTT-over-TLS sessions to an endpoint and holds them idle, so the
//! server's memory per idle connection can be read from outside
//! (`scripts/endpoint_memory.sh`). Loopback only.
//!
//! `cargo run --release --example idle_conns -- ADDR SNI CAFILE N HOLD_SECS`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chainstorm::mqtt::{self, Connect, Packet, Protocol};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, sni, cafile, n, hold] = &args[..] else {
        eprintln!("usage: idle_conns ADDR SNI CAFILE N HOLD_SECS");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR");
    assert!(addr.ip().is_loopback(), "loopback targets only");
    let n: usize = n.parse().expect("N");
    let hold: u64 = hold.parse().expect("HOLD_SECS");
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cafile).expect("CAFILE"))
        .unwrap();
    let opts = chainstorm::client::ClientOptions::default();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        opts.provider(),
    )
    .build()
    .unwrap();
    let cfg = opts.build(verifier).unwrap();
    let connector = TlsConnector::from(Arc::new(cfg));
    let name = ServerName::try_from(sni.clone()).unwrap();
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).unwrap();
        let mut tls = connector
            .connect(name.clone(), tcp)
            .await
            .expect("handshake");
        let mut out = BytesMut::new();
        mqtt::encode(
            &Packet::Connect(Connect::new(Protocol::V311, &format!("idle-{i}"), 1200)),
            Protocol::V311,
            &mut out,
        );
        tls.write_all(&out).await.unwrap();
        tls.flush().await.unwrap();
        let mut ack = [0u8; 4];
        tls.read_exact(&mut ack).await.expect("CONNACK");
        assert_eq!(ack, [0x20, 2, 0, 0], "CONNACK accepted");
        held.push(tls);
    }
    println!("ready {n}");
    tokio::time::sleep(Duration::from_secs(hold)).await;
    drop(held);
}
