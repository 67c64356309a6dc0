//! The one loopback check. Load and fuzz traffic goes to 127.0.0.0/8 and
//! ::1 only, unless the user passed `--allow-remote` (and, for load, a
//! `--max-rate`; see `runner`).

use std::net::{IpAddr, SocketAddr};

/// True for 127.0.0.0/8 and ::1.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// A target outside loopback without `--allow-remote`.
#[derive(Debug, thiserror::Error)]
#[error("{0} is outside 127.0.0.0/8 and ::1; pass --allow-remote to send traffic there")]
pub struct RemoteTarget(pub SocketAddr);

/// Accepts a loopback target, or any target when `allow_remote` is set.
pub fn check_target(addr: SocketAddr, allow_remote: bool) -> Result<(), RemoteTarget> {
    if is_loopback(addr.ip()) || allow_remote {
        Ok(())
    } else {
        Err(RemoteTarget(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_passes_without_permission() {
        for ok in ["127.0.0.1:1", "127.9.9.9:1", "[::1]:1"] {
            assert!(check_target(ok.parse().unwrap(), false).is_ok(), "{ok}");
        }
        for bad in ["10.0.0.1:1", "192.168.1.1:1", "[::2]:1", "0.0.0.0:1"] {
            let e = check_target(bad.parse().unwrap(), false).unwrap_err();
            assert!(e.to_string().contains("--allow-remote"), "{bad}");
            assert!(check_target(bad.parse().unwrap(), true).is_ok());
        }
    }
}
