//! The named links (`link = "NAME"`), each with where its numbers come
//! from. A number is one of three kinds, and the listing says which:
//! *measured* (what a published measurement reports), *peak* (a standard's
//! or vendor's peak rate: a connect on it is a lower bound), or *assumed*
//! (this project's choice where no source was at hand; say so when quoting
//! it). Scenarios override any value key by key.

use super::Link;

/// How a profile's numbers were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Reported by a measurement.
    Measured,
    /// A peak (theoretical or vendor) figure.
    Peak,
    /// Chosen by this project.
    Assumed,
}

impl Basis {
    /// Label for listings.
    pub fn label(self) -> &'static str {
        match self {
            Basis::Measured => "measured",
            Basis::Peak => "peak",
            Basis::Assumed => "assumed",
        }
    }
}

/// A named link.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Name scenarios use.
    pub name: &'static str,
    /// The numbers.
    pub link: Link,
    /// Each number's source, with its [`Basis`].
    pub sources: &'static [(&'static str, Basis, &'static str)],
}

const fn link(rtt_ms: f64, jitter_ms: f64, down: f64, up: f64) -> Link {
    Link {
        rtt_ms,
        jitter_ms,
        down_kbps: Some(down),
        up_kbps: Some(up),
        loss: 0.0,
        mtu: 1500,
    }
}

const HUANG_2012: &str = "Huang et al., A Close Examination of Performance and Power Characteristics of 4G LTE Networks, MobiSys 2012 (abstract: median 13 Mbit/s down, 6 Mbit/s up)";
const KEYSIGHT_CIOT: &str = "Keysight application note 5992-2747EN, NB-IoT and LTE Cat-M1 Field Measurements and SLA Verification (table: Cat-M1 1 Mbit/s peak each way, latency 10-15 ms)";
const UGWUANYI_2021: &str = "Ugwuanyi, Paul, Irvine, Survey of IoT for Developing Countries: Performance Analysis of LoRaWAN and Cellular NB-IoT Networks, Electronics 10:2224 (2021) (abstract: 837 ms latency, at most 264 bit/s)";
const NB1_PEAK: &str = "3GPP Release 13 UE category NB1 peak rates, 26 kbit/s down and 62 kbit/s up, as tabulated in mbedded.ninja, Cellular Communication Protocols (2024)";
const RFC_2488: &str =
    "RFC 2488 section 2: a geostationary hop's round trip is at least 558 ms of propagation";

/// Every named link.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "loopback",
        link: Link::LOOPBACK,
        sources: &[("all", Basis::Measured, "no emulation: the machine's loopback as it is")],
    },
    Profile {
        name: "wifi",
        link: link(10.0, 4.0, 50_000.0, 20_000.0),
        sources: &[(
            "all",
            Basis::Assumed,
            "a home access point a few hops from the broker's region; no measurement quoted",
        )],
    },
    Profile {
        name: "lte",
        link: link(70.0, 20.0, 13_000.0, 6_000.0),
        sources: &[
            ("down_kbps, up_kbps", Basis::Measured, HUANG_2012),
            ("rtt_ms, jitter_ms", Basis::Assumed, "the abstract quotes throughput only"),
        ],
    },
    Profile {
        name: "lte-m",
        link: link(30.0, 10.0, 1_000.0, 1_000.0),
        sources: &[
            ("down_kbps, up_kbps", Basis::Peak, KEYSIGHT_CIOT),
            (
                "rtt_ms",
                Basis::Peak,
                "twice the 15 ms radio latency of the same table; a core network adds to it",
            ),
            ("jitter_ms", Basis::Assumed, "no source"),
        ],
    },
    Profile {
        name: "nb-iot",
        link: link(837.0, 200.0, 26.0, 62.0),
        sources: &[
            ("rtt_ms", Basis::Measured, UGWUANYI_2021),
            ("down_kbps, up_kbps", Basis::Peak, NB1_PEAK),
            ("jitter_ms", Basis::Assumed, "no source"),
        ],
    },
    Profile {
        name: "3g",
        link: link(200.0, 50.0, 1_000.0, 384.0),
        sources: &[(
            "all",
            Basis::Assumed,
            "W-CDMA/HSPA-era rates and latency; RFC 3481 describes these links but its figures were not re-checked here",
        )],
    },
    Profile {
        name: "gprs",
        link: link(700.0, 200.0, 40.0, 14.0),
        sources: &[(
            "all",
            Basis::Assumed,
            "2.5G rates of tens of kbit/s and round trips of hundreds of ms as RFC 3481 describes them; the values are this project's choice",
        )],
    },
    Profile {
        name: "satellite-geo",
        link: link(600.0, 20.0, 10_000.0, 1_000.0),
        sources: &[
            ("rtt_ms", Basis::Peak, RFC_2488),
            (
                "rtt_ms (the 42 ms above 558), jitter_ms, down_kbps, up_kbps",
                Basis::Assumed,
                "ground segments and a consumer terminal's rates",
            ),
        ],
    },
];

/// The profile with this name.
pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_in_range_and_sourced() {
        use crate::link::limits::*;
        for p in PROFILES {
            let l = p.link;
            assert!((0.0..=MAX_RTT_MS).contains(&l.rtt_ms), "{}", p.name);
            assert!(l.jitter_ms <= l.rtt_ms.max(1.0), "{}", p.name);
            for k in [l.down_kbps, l.up_kbps].into_iter().flatten() {
                assert!((MIN_KBPS..=MAX_KBPS).contains(&k), "{}", p.name);
            }
            assert!(!p.sources.is_empty(), "{}", p.name);
        }
        assert!(profile("loopback").unwrap().link.is_loopback());
        assert!(profile("nb-iot").is_some() && profile("5g").is_none());
    }
}
