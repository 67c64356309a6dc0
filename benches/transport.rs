//! The engine's and the endpoint's TLS transport (`chainstorm::transport`)
//! over loopback TCP, both ends in one current-thread runtime, ATS RSA
//! chain, TLS 1.3, the client verifying with chainstorm's timed verifier:
//!
//! - `transport/attempt`: time per attempt (connect, handshake, a 2-byte
//!   exchange standing in for PINGREQ/PINGRESP, close), both ends' CPU;
//! - `transport_allocs/attempt`: heap allocations per attempt, both ends
//!   (a counting allocator; criterion's value is a count, not a time);
//! - `transport_bytes/idle_client` and `/idle_server`: heap bytes one idle,
//!   shed session keeps on each end (the other end's sessions are dropped
//!   before measuring).
//!
//! Counts and bytes are criterion measurements like times, so a regression
//! in them shows in the same comparison of bench results. They see what
//! goes through Rust's global allocator only: aws-lc allocates its own
//! objects (AEAD contexts, public keys) with C's malloc, which this
//! allocator does not count. Whole-process figures (RSS per held device)
//! come from `scripts/soak_10k.sh` and `scripts/demo_100k.sh`.
//!
//! Run: `cargo bench --bench transport`

use std::sync::Arc;

use chainstorm::client::ClientOptions;
use chainstorm::pki::{ChainKind, PkiBundle, PkiConfig};
use chainstorm::transport::{ClientTls, ServerTls};
use chainstorm::trust::{ChainVerifier, TimedVerifier, TrustProfile};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ServerConfig};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// What a custom measurement reads from the allocator.
#[derive(Clone, Copy)]
enum Heap {
    /// Allocations made.
    Allocations,
    /// Bytes allocated and not freed.
    LiveBytes,
}

impl Heap {
    fn read(self) -> f64 {
        let s = GLOBAL.stats();
        match self {
            Heap::Allocations => s.allocations as f64,
            Heap::LiveBytes => s.bytes_allocated as f64 - s.bytes_deallocated as f64,
        }
    }
}

impl Measurement for Heap {
    type Intermediate = f64;
    type Value = f64;
    fn start(&self) -> f64 {
        self.read()
    }
    fn end(&self, i: f64) -> f64 {
        self.read() - i
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, v: &f64) -> f64 {
        *v
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self
    }
}

impl ValueFormatter for Heap {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        self.unit()
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        self.unit()
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        self.unit()
    }
}

impl Heap {
    fn unit(&self) -> &'static str {
        match self {
            Heap::Allocations => "allocs",
            Heap::LiveBytes => "B",
        }
    }
}

struct Setup {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    name: ServerName<'static>,
}

fn setup() -> Setup {
    let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let served = pki.chain(ChainKind::AtsRsa);
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(served.certs.clone(), served.key.clone_key())
        .unwrap();
    server.enable_secret_extraction = true;
    server.send_tls13_tickets = 0;
    let p = Arc::new(TrustProfile::resolve("ats-rsa-only", &pki).unwrap());
    let verifier = TimedVerifier::new(Arc::new(ChainVerifier::new(p)));
    let client = ClientOptions {
        offer: chainstorm::client::Offer {
            tls12: false,
            ..Default::default()
        },
        resumption: Some(Resumption::disabled()),
        ..ClientOptions::default()
    }
    .build(Arc::new(verifier))
    .unwrap();
    Setup {
        client: Arc::new(client),
        server: Arc::new(server),
        name: ServerName::try_from("a1b2c3-ats.iot.us-east-1.amazonaws.com").unwrap(),
    }
}

/// One connected, shed pair.
async fn pair(s: &Setup, listener: &TcpListener) -> (ClientTls, ServerTls) {
    let addr = listener.local_addr().unwrap();
    // A PINGREQ/PINGRESP-sized exchange. The client's Finished leaves with
    // its first write, so the server's handshake ends only after that write.
    let dial = async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut c = ClientTls::connect(s.client.clone(), s.name.clone(), tcp)
            .await
            .unwrap();
        c.write_all(&[0xc0, 0]).await.unwrap();
        c
    };
    let accept = async {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut sv = ServerTls::accept(s.server.clone(), tcp, Vec::new())
            .await
            .unwrap();
        let mut two = [0u8; 2];
        sv.read_exact(&mut two).await.unwrap();
        sv.write_all(&[0xd0, 0]).await.unwrap();
        sv
    };
    let (mut c, mut sv) = tokio::join!(dial, accept);
    let mut two = [0u8; 2];
    c.read_exact(&mut two).await.unwrap();
    c.shed().unwrap();
    sv.shed().unwrap();
    (c, sv)
}

async fn attempt(s: &Setup, listener: &TcpListener) {
    let (mut c, sv) = pair(s, listener).await;
    c.shutdown().await.unwrap();
    drop((c, sv));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn times(c: &mut Criterion) {
    let s = setup();
    let rt = runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let mut g = c.benchmark_group("transport");
    g.throughput(Throughput::Elements(1));
    g.bench_function("attempt", |b| {
        b.iter(|| rt.block_on(attempt(&s, &listener)))
    });
    g.finish();
}

fn allocations(c: &mut Criterion<Heap>) {
    let s = setup();
    let rt = runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let mut g = c.benchmark_group("transport_allocs");
    g.bench_function("attempt", |b| {
        b.iter_custom(|iters| {
            let before = Heap::Allocations.read();
            for _ in 0..iters {
                rt.block_on(attempt(&s, &listener));
            }
            Heap::Allocations.read() - before
        })
    });
    g.finish();
}

fn idle_bytes(c: &mut Criterion<Heap>) {
    let s = setup();
    let rt = runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let mut g = c.benchmark_group("transport_bytes");
    for (label, keep_client) in [("idle_client", true), ("idle_server", false)] {
        g.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut held_c = Vec::with_capacity(iters as usize);
                let mut held_s = Vec::with_capacity(iters as usize);
                let before = Heap::LiveBytes.read();
                for _ in 0..iters {
                    let (cl, sv) = rt.block_on(pair(&s, &listener));
                    if keep_client {
                        held_c.push(cl);
                    } else {
                        held_s.push(sv);
                    }
                }
                let held = Heap::LiveBytes.read() - before;
                drop((held_c, held_s));
                held
            })
        });
    }
    g.finish();
}

fn heap() -> Criterion<Heap> {
    Criterion::default()
        .with_measurement(Heap::Allocations)
        .sample_size(10)
}

fn heap_bytes() -> Criterion<Heap> {
    Criterion::default()
        .with_measurement(Heap::LiveBytes)
        .sample_size(10)
}

criterion_group!(time_benches, times);
criterion_group! {
    name = alloc_benches;
    config = heap();
    targets = allocations
}
criterion_group! {
    name = byte_benches;
    config = heap_bytes();
    targets = idle_bytes
}
criterion_main!(time_benches, alloc_benches, byte_benches);
