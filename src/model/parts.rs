//! Composing a model from parts, as a scenario's `[fleet.model]` table
//! does: each part replaces the base model's.

use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime, Time};

use super::{DeviceModel, ModelError};
use crate::client::{GroupOffer, KeyOffer, SuiteOffer};
use crate::metrics::PinTarget;
use crate::pki::{PkiBundle, Role};
use crate::trust::{DeviceClock, PathBuilder, ProfileRef};

/// The key a pin names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinKey {
    /// The key of a certificate of the mock PKI (e.g. `ats-rsa-intermediate`).
    Cert(Role),
    /// An SPKI SHA-256 given directly.
    Sha256([u8; 32]),
}

impl PinKey {
    /// The SPKI SHA-256 this pin expects.
    pub fn sha256(&self, pki: &PkiBundle) -> [u8; 32] {
        match self {
            PinKey::Sha256(h) => *h,
            PinKey::Cert(r) => crate::trust::spki_sha256(pki.cert(*r).as_ref()).unwrap_or([0; 32]),
        }
    }

    /// How `parts_line` names it.
    pub fn label(&self) -> String {
        match self {
            PinKey::Cert(r) => r.name().to_string(),
            PinKey::Sha256(h) => format!("sha256:{}…", &hex::encode(h)[..12]),
        }
    }
}

/// One pin of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinSpec {
    /// Which certificate of the path.
    pub target: PinTarget,
    /// The key expected there.
    pub key: PinKey,
}

/// Parts that replace a base model's. `None` keeps the base's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelParts {
    /// Trust profile.
    pub trust: Option<ProfileRef>,
    /// Path builder.
    pub builder: Option<PathBuilder>,
    /// Input buffer; `Some(None)` removes the base's limit.
    pub input_buffer: Option<Option<u32>>,
    /// Clock.
    pub clock: Option<DeviceClock>,
    /// TLS 1.2 suites.
    pub suites: Option<SuiteOffer>,
    /// Signature schemes.
    pub schemes: Option<KeyOffer>,
    /// Groups.
    pub groups: Option<GroupOffer>,
    /// SNI.
    pub sni: Option<bool>,
    /// ALPN.
    pub alpn: Option<bool>,
    /// max_fragment_length offered.
    pub max_fragment_length: Option<u16>,
    /// Pins (replace the base's when given).
    pub pins: Option<Vec<PinSpec>>,
}

impl DeviceModel {
    /// This model with `parts` replacing its own; named `name`.
    pub fn compose(mut self, name: &str, parts: &ModelParts) -> DeviceModel {
        let base = self.name.clone();
        self.name = if parts == &ModelParts::default() {
            name.to_string()
        } else {
            format!("{name}+parts")
        };
        self.imitates = format!("{base} with parts replaced by the scenario");
        if let Some(t) = &parts.trust {
            self.trust = t.clone();
        }
        if let Some(b) = parts.builder {
            self.builder = b;
        }
        if let Some(b) = parts.input_buffer {
            self.input_buffer = b;
        }
        if let Some(c) = parts.clock {
            self.clock = c;
        }
        let c = &mut self.caps;
        c.suites = parts.suites.unwrap_or(c.suites);
        c.schemes = parts.schemes.unwrap_or(c.schemes);
        c.groups = parts.groups.unwrap_or(c.groups);
        c.sni = parts.sni.unwrap_or(c.sni);
        c.alpn = parts.alpn.unwrap_or(c.alpn);
        if parts.max_fragment_length.is_some() {
            c.max_fragment_length = parts.max_fragment_length;
        }
        if let Some(p) = &parts.pins {
            self.pins = p.clone();
        }
        self
    }
}

/// Parses a clock part: `exact`, `unset` (1970-01-01), `unset:YYYY-MM-DD`
/// (a clock that starts at the firmware's build date), or `skew:+N` /
/// `skew:-N` seconds (at most ±100 years).
pub fn parse_clock(s: &str) -> Result<DeviceClock, ModelError> {
    let bad = || ModelError::BadClock {
        value: s.to_string(),
    };
    if s == "exact" {
        return Ok(DeviceClock::Exact);
    }
    if s == "unset" {
        return Ok(DeviceClock::Unset(0));
    }
    if let Some(d) = s.strip_prefix("unset:") {
        let date = Date::parse(d, &Iso8601::DATE).map_err(|_| bad())?;
        return Ok(DeviceClock::Unset(
            OffsetDateTime::new_utc(date, Time::MIDNIGHT).unix_timestamp(),
        ));
    }
    if let Some(n) = s.strip_prefix("skew:") {
        let by: i64 = n.trim_start_matches('+').parse().map_err(|_| bad())?;
        if by.abs() > super::MAX_SKEW_S {
            return Err(bad());
        }
        return Ok(DeviceClock::Skew(by));
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_parse() {
        assert_eq!(parse_clock("unset"), Ok(DeviceClock::Unset(0)));
        assert_eq!(
            parse_clock("unset:2019-06-01"),
            Ok(DeviceClock::Unset(1_559_347_200))
        );
        assert_eq!(parse_clock("skew:+86400"), Ok(DeviceClock::Skew(86_400)));
        assert_eq!(parse_clock("skew:-60"), Ok(DeviceClock::Skew(-60)));
        assert!(parse_clock("skew:+99999999999").is_err());
        assert!(parse_clock("tomorrow").is_err());
    }

    #[test]
    fn parts_replace_only_what_they_name() {
        let base = DeviceModel::named("esp32-mbedtls-4k");
        let m = base.clone().compose(
            "mine",
            &ModelParts {
                builder: Some(PathBuilder::UntrustedFirst { alt_chains: false }),
                ..ModelParts::default()
            },
        );
        assert_eq!(m.builder, PathBuilder::UntrustedFirst { alt_chains: false });
        assert_eq!(m.input_buffer, base.input_buffer);
        assert_eq!(m.trust, base.trust);
        assert_eq!(m.name, "mine+parts");
    }
}
