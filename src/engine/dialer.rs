//! TCP connect: TCP_NODELAY, and source addresses rotated over 127.0.0.x
//! for loopback targets, since one (source, destination) pair has only
//! about 28,000 ephemeral ports (32768-60999) and TIME_WAIT holds them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

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
        let n = self.next.fetch_add(1, Relaxed);
        let target = self.targets[n % self.targets.len()];
        let sock = if target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        sock.set_nodelay(true)?;
        if !self.sources.is_empty() {
            let src = self.sources[(n / self.targets.len()) % self.sources.len()];
            sock.bind(SocketAddr::new(src, 0))?;
        }
        match tokio::time::timeout(self.timeout, sock.connect(target)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            )),
        }
    }
}
