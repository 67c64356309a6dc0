//! Device models: what a fleet's TLS library does, so a simulated device
//! fails the way the real one would. A model is a trust store (a
//! [`crate::trust::TrustProfile`] name, with its distrust policies), a path
//! builder, a TLS input buffer, a clock, what the ClientHello offers, and
//! optional pins. Named models imitate common device stacks
//! ([`builtin`]); a scenario can compose one from parts ([`ModelParts`]).

mod builtin;
mod parts;

pub use builtin::{BuiltinModel, BUILTIN_MODELS};
pub use parts::{parse_clock, ModelParts, PinKey, PinSpec};

use crate::client::{GroupOffer, KeyOffer, Offer, SuiteOffer};
use crate::pki::{CertMessageLayout, PkiBundle};
use crate::trust::{
    CheckOrder, DeviceClock, InputBuffer, PathBuilder, Pin, ProfileRef, ValidationRules,
};

/// The largest clock skew a model may have: ±100 years, s.
pub const MAX_SKEW_S: i64 = 100 * 366 * 86_400;

/// Errors of the model layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A clock part that is none of the allowed forms.
    #[error("clock {value:?}: expected \"exact\", \"unset\", \"unset:YYYY-MM-DD\" or \"skew:+SECONDS\" (|skew| <= {MAX_SKEW_S})")]
    BadClock {
        /// The part as written.
        value: String,
    },
}

/// One device model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceModel {
    /// Name as results print it (the built-in name, or the scenario's
    /// profile name for a plain trust profile).
    pub name: String,
    /// What it imitates.
    pub imitates: String,
    /// Trust profile (root store + distrust policies).
    pub trust: ProfileRef,
    /// Path search order.
    pub builder: PathBuilder,
    /// Which fault the library reports first.
    pub order: CheckOrder,
    /// TLS input buffer in bytes (`None`: 16 KiB or more, never binding).
    pub input_buffer: Option<u32>,
    /// The device's clock.
    pub clock: DeviceClock,
    /// ClientHello.
    pub caps: Offer,
    /// Pinned keys.
    pub pins: Vec<PinSpec>,
}

impl DeviceModel {
    /// A plain trust profile as a model: rustls' behaviour over that store,
    /// which is what every profile name meant before models existed.
    pub fn from_profile(profile: ProfileRef) -> DeviceModel {
        DeviceModel {
            name: profile.to_string(),
            imitates: format!("rustls + webpki over trust profile {profile}"),
            trust: profile,
            builder: PathBuilder::Webpki,
            order: CheckOrder::PathDatesName,
            input_buffer: None,
            clock: DeviceClock::Exact,
            caps: Offer::default(),
            pins: Vec::new(),
        }
    }

    /// A built-in model by name, or a trust profile name as a plain model.
    pub fn named(name: &str) -> DeviceModel {
        match BUILTIN_MODELS.iter().find(|m| m.name == name) {
            Some(m) => m.model(),
            None => DeviceModel::from_profile(ProfileRef::parse(name, None)),
        }
    }

    /// True when `name` is a built-in model.
    pub fn is_builtin(name: &str) -> bool {
        BUILTIN_MODELS.iter().any(|m| m.name == name)
    }

    /// The verifier's rules, pins resolved against `pki`.
    pub fn rules(&self, pki: &PkiBundle) -> ValidationRules {
        ValidationRules {
            builder: self.builder,
            order: self.order,
            clock: self.clock,
            pins: self
                .pins
                .iter()
                .map(|p| Pin {
                    target: p.target,
                    spki_sha256: p.key.sha256(pki),
                })
                .collect(),
            input_buffer: self.input_buffer.map(|bytes| InputBuffer {
                bytes,
                // The Certificate message has the layout of the highest
                // version the device offers (AWS IoT picks the highest).
                layout: if self.caps.tls13 {
                    CertMessageLayout::Tls13
                } else {
                    CertMessageLayout::Tls12
                },
                mfl_offered: self.caps.max_fragment_length,
            }),
        }
    }

    /// One line of the parts, for `chainstorm profiles` and reports.
    pub fn parts_line(&self) -> String {
        let versions = match (self.caps.tls13, self.caps.tls12) {
            (true, true) => "TLS 1.3+1.2",
            (true, false) => "TLS 1.3",
            _ => "TLS 1.2",
        };
        let mut s = format!(
            "trust {}, path {}, {versions}",
            self.trust,
            self.builder.name()
        );
        if let Some(b) = self.input_buffer {
            s.push_str(&format!(", input buffer {b} B"));
        }
        if self.caps.suites != SuiteOffer::Any {
            s.push_str(&format!(", suites {:?}", self.caps.suites));
        }
        if self.caps.schemes != KeyOffer::Any {
            s.push_str(&format!(", schemes {:?}", self.caps.schemes));
        }
        if self.caps.groups != GroupOffer::Any {
            s.push_str(&format!(", groups {:?}", self.caps.groups));
        }
        if !self.caps.sni {
            s.push_str(", no SNI");
        }
        if !self.caps.alpn {
            s.push_str(", no ALPN");
        }
        if let Some(m) = self.caps.max_fragment_length {
            s.push_str(&format!(", offers max_fragment_length {m}"));
        }
        match self.clock {
            DeviceClock::Exact => {}
            DeviceClock::Unset(t) => s.push_str(&format!(", clock unset (unix {t})")),
            DeviceClock::Skew(by) => s.push_str(&format!(", clock skew {by:+} s")),
        }
        for p in &self.pins {
            s.push_str(&format!(", pins {} {}", p.target.label(), p.key.label()));
        }
        s
    }
}
