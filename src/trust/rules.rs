//! What a device's TLS library does with the server's certificates beyond
//! the root store: the order it builds the path in, the clock it checks
//! validity with, the keys it pins, and the input buffer the Certificate
//! message must fit in. The timed verifier applies them, so their cost is
//! inside the measured validation time.

use rustls_pki_types::UnixTime;
use time::{Date, OffsetDateTime};

use super::path::PathBuilder;
use crate::metrics::PinTarget;
use crate::pki::CertMessageLayout;

/// The device's idea of the current time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeviceClock {
    /// The host's clock (a device that has synchronised with SNTP).
    #[default]
    Exact,
    /// A clock that was never set and reads this Unix time (0 for a device
    /// without a battery-backed clock, or its firmware build date).
    Unset(i64),
    /// The host's clock plus this many seconds (negative: behind).
    Skew(i64),
}

impl DeviceClock {
    /// The time the device believes it is when the host says `now`.
    pub fn read(self, now: UnixTime) -> UnixTime {
        let secs = now.as_secs() as i64;
        let t = match self {
            DeviceClock::Exact => secs,
            DeviceClock::Unset(at) => at,
            DeviceClock::Skew(by) => secs.saturating_add(by),
        };
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64))
    }

    /// The calendar date the device's clock shows, for failure messages.
    pub fn date(self, now: UnixTime) -> Date {
        OffsetDateTime::from_unix_timestamp(self.read(now).as_secs() as i64)
            .map(|t| t.date())
            .unwrap_or(Date::MIN)
    }
}

/// A pinned key: the SHA-256 of the DER SubjectPublicKeyInfo (the
/// `pin-sha256` of RFC 7469) expected at one place of the verified path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pin {
    /// Which certificate of the path.
    pub target: PinTarget,
    /// Its key's SPKI SHA-256.
    pub spki_sha256: [u8; 32],
}

/// The largest Certificate message a device can receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputBuffer {
    /// Bytes of record plaintext the device's buffer holds.
    pub bytes: u32,
    /// Which layout the message has (the device's highest TLS version).
    pub layout: CertMessageLayout,
    /// max_fragment_length the device offered, if any (the endpoint, like
    /// AWS IoT, ignores it, so the records stay full size).
    pub mfl_offered: Option<u16>,
}

/// The order in which a library checks the path, the host name and the
/// validity dates: with several faults, the first check that fails is the
/// one its log names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CheckOrder {
    /// Path, then dates (while verifying the path), then the name: webpki,
    /// Java's PKIXValidator then its host name check, mbedTLS and wolfSSL.
    #[default]
    PathDatesName,
    /// Path, then the name, then dates: OpenSSL's `verify_chain()` runs
    /// `check_id()` before `internal_verify()` (`crypto/x509/x509_vfy.c`).
    PathNameDates,
    /// The leaf's dates, then the name, then the path: Go's
    /// `Certificate.Verify` checks the leaf's validity and `VerifyHostname`
    /// before `buildChains` (`crypto/x509/verify.go`).
    LeafDatesNamePath,
}

/// Everything the verifier applies besides the profile's anchors and
/// distrust policies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValidationRules {
    /// Path search order.
    pub builder: PathBuilder,
    /// Which fault is reported first.
    pub order: CheckOrder,
    /// The device's clock.
    pub clock: DeviceClock,
    /// Pinned keys (any pin of a target may match; every pinned target must).
    pub pins: Vec<Pin>,
    /// TLS input buffer, when the device has a small one.
    pub input_buffer: Option<InputBuffer>,
}

impl Default for ValidationRules {
    /// rustls as it is: webpki's search, the host clock, no pins, no limit.
    fn default() -> Self {
        ValidationRules {
            builder: PathBuilder::Webpki,
            order: CheckOrder::PathDatesName,
            clock: DeviceClock::Exact,
            pins: Vec::new(),
            input_buffer: None,
        }
    }
}

impl ValidationRules {
    /// True when these are rustls' own behaviour (the verifier then takes
    /// exactly rustls' code path).
    pub fn is_default(&self) -> bool {
        *self == ValidationRules::default()
    }

    /// The first pinned target whose certificate on the path matches no
    /// pin; `spki_of(target)` gives the path's SPKI hash there.
    pub fn pin_mismatch(&self, spki_of: impl Fn(PinTarget) -> [u8; 32]) -> Option<PinTarget> {
        [PinTarget::Leaf, PinTarget::Intermediate, PinTarget::Root]
            .into_iter()
            .find(|&t| {
                let mut wanted = self.pins.iter().filter(|p| p.target == t).peekable();
                wanted.peek().is_some() && {
                    let have = spki_of(t);
                    !wanted.any(|p| p.spki_sha256 == have)
                }
            })
    }
}

/// The server's Certificate message did not fit the device's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceBufferExceeded {
    /// Message size, header included.
    pub message: u32,
    /// Buffer size.
    pub buffer: u32,
    /// max_fragment_length the device offered.
    pub mfl_offered: Option<u16>,
}

impl std::fmt::Display for DeviceBufferExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "certificate message of {} B exceeds the device's {} B TLS input buffer",
            self.message, self.buffer
        )?;
        if let Some(m) = self.mfl_offered {
            write!(
                f,
                " (it offered max_fragment_length {m}, which the endpoint ignores, as AWS IoT does)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for DeviceBufferExceeded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_as_devices_do() {
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000));
        assert_eq!(DeviceClock::Exact.read(now), now);
        assert_eq!(DeviceClock::Unset(0).read(now).as_secs(), 0);
        assert_eq!(DeviceClock::Unset(0).date(now).to_string(), "1970-01-01");
        assert_eq!(
            DeviceClock::Skew(-3600).read(now).as_secs(),
            1_700_000_000 - 3600
        );
        // A skew before 1970 reads as 1970, never wraps.
        assert_eq!(DeviceClock::Skew(i64::MIN).read(now).as_secs(), 0);
    }

    #[test]
    fn a_buffer_failure_says_the_ignored_max_fragment_length() {
        let e = DeviceBufferExceeded {
            message: 4792,
            buffer: 4096,
            mfl_offered: Some(4096),
        };
        assert_eq!(
            e.to_string(),
            "certificate message of 4792 B exceeds the device's 4096 B TLS input buffer \
             (it offered max_fragment_length 4096, which the endpoint ignores, as AWS IoT does)"
        );
        let plain = DeviceBufferExceeded {
            mfl_offered: None,
            ..e
        };
        assert!(!plain.to_string().contains("max_fragment_length"));
    }

    #[test]
    fn a_pinned_target_must_match_one_of_its_pins() {
        let rules = ValidationRules {
            pins: vec![
                Pin {
                    target: PinTarget::Intermediate,
                    spki_sha256: [1; 32],
                },
                Pin {
                    target: PinTarget::Intermediate,
                    spki_sha256: [2; 32],
                },
            ],
            ..ValidationRules::default()
        };
        assert_eq!(rules.pin_mismatch(|_| [2; 32]), None);
        assert_eq!(
            rules.pin_mismatch(|_| [3; 32]),
            Some(PinTarget::Intermediate)
        );
        // Unpinned targets are never checked.
        assert_eq!(ValidationRules::default().pin_mismatch(|_| [9; 32]), None);
    }
}
