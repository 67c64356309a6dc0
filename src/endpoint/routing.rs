//! SNI routing, following AWS IoT's documented endpoint names:
//! `<prefix>.iot.<region>.amazonaws.com` is the legacy (VeriSign) endpoint,
//! `<prefix>-ats.iot.<region>.amazonaws.com` the ATS one.

use rustls::{CipherSuite, SignatureScheme};

use super::config::KeyPreference;
use crate::pki::{regions, ChainKind};

/// Which endpoint a name addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `iot:Data`, served with the VeriSign chain.
    Legacy {
        /// Region of the name.
        region: String,
    },
    /// `iot:Data-ATS`, served with an Amazon Trust Services chain.
    Ats {
        /// Region of the name.
        region: String,
    },
}

/// Why a ClientHello cannot be routed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No server_name extension, and SNI is required.
    #[error("no SNI")]
    NoSni,
    /// A name that is not an endpoint of this account.
    #[error("unknown endpoint name {0:?}")]
    UnknownName(String),
}

/// Routes a server name. `prefix`: the account prefix, `None` for any.
pub fn route(
    sni: Option<&str>,
    prefix: Option<&str>,
    require_sni: bool,
    default_region: &str,
) -> Result<Route, RouteError> {
    let Some(name) = sni else {
        return if require_sni {
            Err(RouteError::NoSni)
        } else {
            Ok(Route::Ats {
                region: default_region.to_string(),
            })
        };
    };
    let unknown = || RouteError::UnknownName(name.to_string());
    let lower = name.to_ascii_lowercase();
    let (host, region) = lower
        .split_once(".iot.")
        .and_then(|(host, rest)| {
            let region = rest
                .strip_suffix(".amazonaws.com.cn")
                .or_else(|| rest.strip_suffix(".amazonaws.com"))?;
            (regions::dns_suffix(region) == &rest[region.len() + 1..]).then_some((host, region))
        })
        .ok_or_else(unknown)?;
    if !regions::is_known(region) || host.is_empty() || host.contains('.') {
        return Err(unknown());
    }
    let (account, ats) = match host.strip_suffix("-ats") {
        Some(a) => (a, true),
        None => (host, false),
    };
    if account.is_empty() || prefix.is_some_and(|p| !p.eq_ignore_ascii_case(account)) {
        return Err(unknown());
    }
    if ats {
        Ok(Route::Ats {
            region: region.to_string(),
        })
    } else if regions::has_legacy_endpoint(region) {
        Ok(Route::Legacy {
            region: region.to_string(),
        })
    } else {
        // ATS-only regions have no VeriSign endpoint: the name does not exist.
        Err(unknown())
    }
}

/// What the client can verify, from its ClientHello's signature schemes.
pub fn offers(schemes: &[SignatureScheme]) -> (bool, bool) {
    let ecdsa = schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256);
    let rsa = schemes.iter().any(|s| {
        matches!(
            s,
            SignatureScheme::RSA_PSS_SHA256
                | SignatureScheme::RSA_PSS_SHA384
                | SignatureScheme::RSA_PSS_SHA512
                | SignatureScheme::RSA_PKCS1_SHA256
                | SignatureScheme::RSA_PKCS1_SHA384
                | SignatureScheme::RSA_PKCS1_SHA512
        )
    });
    (ecdsa, rsa)
}

/// What a ClientHello offers that decides which chain it can complete.
#[derive(Clone, Copy, Debug)]
pub struct Offer<'a> {
    /// signature_algorithms.
    pub schemes: &'a [SignatureScheme],
    /// cipher_suites.
    pub suites: &'a [CipherSuite],
    /// The endpoint's policy allows TLS 1.3.
    pub tls13_allowed: bool,
}

fn is_tls13(s: &CipherSuite) -> bool {
    matches!(
        s,
        CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    )
}

// Matched by value, not by name: this runs for every ClientHello. The
// TLS 1.2 suites rustls can serve (its aws-lc-rs provider).
fn is_ecdhe_ecdsa(s: &CipherSuite) -> bool {
    matches!(
        s,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

fn is_ecdhe_rsa(s: &CipherSuite) -> bool {
    matches!(
        s,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// Which certificate keys the client can complete a handshake with:
/// (ECDSA, RSA). In TLS 1.3 the signature schemes decide; in TLS 1.2 a
/// key also needs a suite for it (ECDHE-ECDSA or ECDHE-RSA; rustls serves
/// no other kind), as AWS picks the chain from what the client can finish.
pub fn completable(o: &Offer<'_>) -> (bool, bool) {
    let (ecdsa, rsa) = offers(o.schemes);
    if o.tls13_allowed && o.suites.iter().any(is_tls13) {
        return (ecdsa, rsa);
    }
    (
        ecdsa && o.suites.iter().any(is_ecdhe_ecdsa),
        rsa && o.suites.iter().any(is_ecdhe_rsa),
    )
}

/// The chain to present for a route. The ATS RSA chain carries the
/// Starfield cross-certificate, as AWS serves it.
pub fn choose_chain(
    route: &Route,
    offer: &Offer<'_>,
    pref: KeyPreference,
    broken: Option<ChainKind>,
) -> ChainKind {
    match route {
        Route::Legacy { .. } => ChainKind::Legacy,
        Route::Ats { .. } => {
            if let Some(b) = broken {
                return b;
            }
            let (ecdsa, rsa) = completable(offer);
            if ecdsa && (pref == KeyPreference::PreferEcc || !rsa) {
                ChainKind::AtsEcc
            } else {
                ChainKind::AtsRsaCrossSigned
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str) -> Result<Route, RouteError> {
        route(Some(name), None, true, "us-east-1")
    }

    #[test]
    fn aws_names() {
        assert_eq!(
            r("a1b2c3-ats.iot.eu-west-1.amazonaws.com"),
            Ok(Route::Ats {
                region: "eu-west-1".into()
            })
        );
        assert_eq!(
            r("A1B2C3.iot.us-east-1.amazonaws.com"),
            Ok(Route::Legacy {
                region: "us-east-1".into()
            })
        );
        assert_eq!(
            r("a1b2c3.iot.cn-north-1.amazonaws.com.cn"),
            Ok(Route::Legacy {
                region: "cn-north-1".into()
            })
        );
        // Legacy name in an ATS-only region: no such endpoint.
        assert!(r("a1b2c3.iot.ap-south-1.amazonaws.com").is_err());
        assert!(r("a1b2c3-ats.iot.ap-south-1.amazonaws.com").is_ok());
        // Wrong suffix for the region, unknown region, other services.
        assert!(r("a1b2c3.iot.cn-north-1.amazonaws.com").is_err());
        assert!(r("a1b2c3-ats.iot.mars-1.amazonaws.com").is_err());
        assert!(r("s3.us-east-1.amazonaws.com").is_err());
        assert!(r("x.y-ats.iot.us-east-1.amazonaws.com").is_err());
        assert!(r("-ats.iot.us-east-1.amazonaws.com").is_err());
        assert_eq!(route(None, None, true, "us-east-1"), Err(RouteError::NoSni));
        assert!(route(None, None, false, "us-east-1").is_ok());
    }

    #[test]
    fn account_prefix_is_enforced_when_set() {
        let ok = route(
            Some("abc-ats.iot.us-east-1.amazonaws.com"),
            Some("abc"),
            true,
            "us-east-1",
        );
        assert!(ok.is_ok());
        let other = route(
            Some("xyz-ats.iot.us-east-1.amazonaws.com"),
            Some("abc"),
            true,
            "us-east-1",
        );
        assert!(other.is_err());
    }

    #[test]
    fn ecc_when_preferred_or_only_option() {
        let ats = Route::Ats {
            region: "us-east-1".into(),
        };
        let both = [
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::RSA_PSS_SHA256,
        ];
        let ec_only = [SignatureScheme::ECDSA_NISTP256_SHA256];
        let tls13 = [CipherSuite::TLS13_AES_128_GCM_SHA256];
        let offer = |schemes, suites| Offer {
            schemes,
            suites,
            tls13_allowed: true,
        };
        let pick = |o: &Offer<'_>, p| choose_chain(&ats, o, p, None);
        assert_eq!(
            pick(&offer(&both, &tls13), KeyPreference::PreferRsa),
            ChainKind::AtsRsaCrossSigned
        );
        assert_eq!(
            pick(&offer(&both, &tls13), KeyPreference::PreferEcc),
            ChainKind::AtsEcc
        );
        assert_eq!(
            pick(&offer(&ec_only, &tls13), KeyPreference::PreferRsa),
            ChainKind::AtsEcc
        );
        // TLS 1.2 only: the suites decide as much as the schemes. An
        // ECDHE-ECDSA-only client (mbedTLS ECC builds) gets the ECC chain
        // even though it also lists RSA schemes; an ECDHE-RSA-only one the
        // RSA chain even when the endpoint prefers ECC.
        let ecdsa_suite = [CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256];
        let rsa_suite = [CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256];
        assert_eq!(
            pick(&offer(&both, &ecdsa_suite), KeyPreference::PreferRsa),
            ChainKind::AtsEcc
        );
        assert_eq!(
            pick(&offer(&both, &rsa_suite), KeyPreference::PreferEcc),
            ChainKind::AtsRsaCrossSigned
        );
        // A TLS 1.3 offer under a TLS 1.2-only policy is judged as TLS 1.2.
        let mixed = [
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ];
        let no13 = Offer {
            schemes: &both,
            suites: &mixed,
            tls13_allowed: false,
        };
        assert_eq!(pick(&no13, KeyPreference::PreferRsa), ChainKind::AtsEcc);
        assert_eq!(
            choose_chain(
                &ats,
                &offer(&both, &tls13),
                KeyPreference::PreferRsa,
                Some(ChainKind::Expired)
            ),
            ChainKind::Expired
        );
    }
}
