//! TCP connect: TCP_NODELAY, and source addresses rotated over 127.0.0.x
//! for loopback targets, since one (source, destination) pair has only
//! about 28,000 ephemeral ports (32768-60999) and TIME_WAIT holds them.
//!
//! A connect has two halves so the scheduler thread can start it at the
//! device's intended time ([`Dialer::start`]: socket, bind, non-blocking
//! connect — the SYN leaves) and the worker can finish it when it gets to
//! the device ([`Dialer::finish`]: wait until writable, read the outcome).
//! A busy worker then delays only the reading of the answer, which shows in
//! `tcp_connect`, not the arrival itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::TcpStream;

const EINPROGRESS: i32 = 115;

/// A connect the scheduler started at `at` (or the error starting it).
#[derive(Debug)]
pub(crate) struct Started {
    pub sock: std::io::Result<std::net::TcpStream>,
    pub at: std::time::Instant,
}

/// Connects to targets, spreading source addresses.
#[derive(Debug)]
pub struct Dialer {
    targets: Vec<SocketAddr>,
    sources: Vec<IpAddr>,
    next: AtomicUsize,
    timeout: Duration,
}

/// Source addresses used for a loopback IPv4 target: 127.0.0.(2+offset) ..
/// 127.0.0.(1+offset+n), wrapping within 127.0.0.2-254.
pub fn loopback_sources(n: usize, offset: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + ((offset + i) % 253) as u8)))
        .collect()
}

impl Dialer {
    /// A dialer over `targets`; loopback IPv4 targets get `sources` rotated.
    pub fn new(
        targets: Vec<SocketAddr>,
        source_count: usize,
        source_offset: usize,
        timeout: Duration,
    ) -> Dialer {
        let loopback_v4 = targets
            .iter()
            .all(|t| t.is_ipv4() && crate::safety::is_loopback(t.ip()));
        Dialer {
            targets,
            sources: if loopback_v4 {
                loopback_sources(source_count.clamp(1, 250), source_offset)
            } else {
                Vec::new()
            },
            next: AtomicUsize::new(0),
            timeout,
        }
    }

    /// Connects; returns the stream or the I/O error (`TimedOut` on timeout).
    pub async fn dial(&self) -> std::io::Result<TcpStream> {
        let started = self.start()?;
        self.finish(started).await
    }

    /// Starts a connect without waiting for it: socket, TCP_NODELAY, source
    /// address, non-blocking `connect`. Needs no runtime.
    pub fn start(&self) -> std::io::Result<std::net::TcpStream> {
        let n = self.next.fetch_add(1, Relaxed);
        let target = self.targets[n % self.targets.len()];
        let domain = if target.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let sock = Socket::new(domain, Type::STREAM, Some(socket2::Protocol::TCP))?;
        sock.set_nonblocking(true)?;
        sock.set_tcp_nodelay(true)?;
        if !self.sources.is_empty() {
            let src = self.sources[(n / self.targets.len()) % self.sources.len()];
            sock.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
        }
        match sock.connect(&SockAddr::from(target)) {
            Ok(()) => {}
            // EINPROGRESS (Linux): the SYN is out, the answer comes later.
            // (`io::ErrorKind::InProgress` is not stable yet.)
            Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        Ok(sock.into())
    }

    /// Waits (up to the connect timeout) for a started connect to finish;
    /// must run inside the worker's runtime.
    pub async fn finish(&self, started: std::net::TcpStream) -> std::io::Result<TcpStream> {
        let stream = TcpStream::from_std(started)?;
        match tokio::time::timeout(self.timeout, stream.writable()).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out",
                ))
            }
        }
        // Writable means the connect finished; SO_ERROR says how.
        match stream.take_error()? {
            Some(e) => Err(e),
            None => Ok(stream),
        }
    }
}
