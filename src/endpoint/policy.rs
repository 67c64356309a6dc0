//! AWS IoT Core's predefined TLS security policies, as its developer guide
//! tabulates them ("Transport security in AWS IoT Core", security policies
//! table): versions and suites per policy, in the table's order, which the
//! endpoint uses as its server preference (AWS does not publish its order:
//! unconfirmed). rustls serves only the AEAD suites (AES-GCM, ChaCha20); the
//! CBC, static-RSA and DHE suites the older policies list cannot be served
//! and are listed as such by `serve --security-policy list`.

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedProtocolVersion};
use serde::Deserialize;

/// Named TLS security policies, after AWS IoT's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum SecurityPolicy {
    /// AWS's default: TLS 1.3 and 1.2.
    #[default]
    #[serde(rename = "IoTSecurityPolicy_TLS13_1_2_2022_10")]
    Tls13And12,
    /// TLS 1.3 only.
    #[serde(rename = "IoTSecurityPolicy_TLS13_1_3_2022_10")]
    Tls13Only,
    /// TLS 1.2 only.
    #[serde(rename = "IoTSecurityPolicy_TLS12_1_2_2022_10")]
    Tls12Only,
    /// Older TLS 1.2 policy (some regions); on 8443/8883 without AES128-SHA256.
    #[serde(rename = "IoTSecurityPolicy_TLS12_1_0_2016_01")]
    Tls12Of2016,
    /// Older TLS 1.2 policy (us-east-1 and others), adds DHE-RSA-AES256-SHA.
    #[serde(rename = "IoTSecurityPolicy_TLS12_1_0_2015_01")]
    Tls12Of2015,
    /// AWS GovCloud (US) default: TLS 1.3 without ChaCha20, fewer 1.2 suites.
    #[serde(rename = "IoTSecurityPolicy_TLS13_1_2_2022_01")]
    Tls13GovCloud,
}

/// TLS 1.3 suites, table order: (OpenSSL-style name, policies having it).
const TLS13: [(&str, Option<CipherSuite>); 3] = [
    (
        "TLS_AES_128_GCM_SHA256",
        Some(CipherSuite::TLS13_AES_128_GCM_SHA256),
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        Some(CipherSuite::TLS13_AES_256_GCM_SHA384),
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
    ),
];

/// TLS 1.2 suites in the table's order, with the rustls suite when rustls
/// can serve it.
const TLS12: [(&str, Option<CipherSuite>); 19] = [
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ),
    ("ECDHE-RSA-AES128-SHA256", None),
    ("ECDHE-RSA-AES128-SHA", None),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        Some(CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ),
    ("ECDHE-RSA-AES256-SHA384", None),
    ("ECDHE-RSA-AES256-SHA", None),
    ("AES128-GCM-SHA256", None),
    ("AES128-SHA256", None),
    ("AES128-SHA", None),
    ("AES256-GCM-SHA384", None),
    ("AES256-SHA256", None),
    ("AES256-SHA", None),
    ("DHE-RSA-AES256-SHA", None),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ),
    ("ECDHE-ECDSA-AES128-SHA256", None),
    ("ECDHE-ECDSA-AES128-SHA", None),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        Some(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    ),
    ("ECDHE-ECDSA-AES256-SHA384", None),
    ("ECDHE-ECDSA-AES256-SHA", None),
];

impl SecurityPolicy {
    /// Every policy, as `serve --security-policy list` shows them.
    pub const ALL: [SecurityPolicy; 6] = [
        SecurityPolicy::Tls13Only,
        SecurityPolicy::Tls13And12,
        SecurityPolicy::Tls12Only,
        SecurityPolicy::Tls12Of2016,
        SecurityPolicy::Tls12Of2015,
        SecurityPolicy::Tls13GovCloud,
    ];

    /// The AWS name.
    pub fn name(self) -> &'static str {
        match self {
            SecurityPolicy::Tls13And12 => "IoTSecurityPolicy_TLS13_1_2_2022_10",
            SecurityPolicy::Tls13Only => "IoTSecurityPolicy_TLS13_1_3_2022_10",
            SecurityPolicy::Tls12Only => "IoTSecurityPolicy_TLS12_1_2_2022_10",
            SecurityPolicy::Tls12Of2016 => "IoTSecurityPolicy_TLS12_1_0_2016_01",
            SecurityPolicy::Tls12Of2015 => "IoTSecurityPolicy_TLS12_1_0_2015_01",
            SecurityPolicy::Tls13GovCloud => "IoTSecurityPolicy_TLS13_1_2_2022_01",
        }
    }

    /// Parses an AWS policy name.
    pub fn from_name(s: &str) -> Option<SecurityPolicy> {
        SecurityPolicy::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Offers TLS 1.3.
    pub fn tls13(self) -> bool {
        matches!(
            self,
            SecurityPolicy::Tls13Only | SecurityPolicy::Tls13And12 | SecurityPolicy::Tls13GovCloud
        )
    }

    /// Offers TLS 1.2.
    pub fn tls12(self) -> bool {
        self != SecurityPolicy::Tls13Only
    }

    /// Where AWS offers the policy (the table's notes).
    pub fn regions(self) -> &'static str {
        match self {
            SecurityPolicy::Tls12Of2016 => "some regions (ap-east-1, us-east-2, eu-west-2, ...)",
            SecurityPolicy::Tls12Of2015 => {
                "some regions (us-east-1, us-west-2, eu-west-1, eu-central-1, ap-northeast-1, ap-southeast-1)"
            }
            SecurityPolicy::Tls13GovCloud => "AWS GovCloud (US) only",
            _ => "all regions",
        }
    }

    /// The policy's suites in table order (TLS 1.3 first), each with the
    /// rustls suite when rustls can serve it. For the 2016 policy, the
    /// MQTT ports' column (8443/8883: no AES128-SHA256).
    pub fn suites(self) -> Vec<(&'static str, Option<CipherSuite>)> {
        let has13 = |name: &str| match self {
            SecurityPolicy::Tls13Only | SecurityPolicy::Tls13And12 => true,
            SecurityPolicy::Tls13GovCloud => name != "TLS_CHACHA20_POLY1305_SHA256",
            _ => false,
        };
        let has12 = |name: &str| match self {
            SecurityPolicy::Tls13Only => false,
            SecurityPolicy::Tls13And12 | SecurityPolicy::Tls12Only => name != "DHE-RSA-AES256-SHA",
            SecurityPolicy::Tls12Of2016 => name != "DHE-RSA-AES256-SHA" && name != "AES128-SHA256",
            SecurityPolicy::Tls12Of2015 => true,
            SecurityPolicy::Tls13GovCloud => !matches!(
                name,
                "AES128-GCM-SHA256"
                    | "AES128-SHA256"
                    | "AES256-GCM-SHA384"
                    | "AES256-SHA256"
                    | "DHE-RSA-AES256-SHA"
            ),
        };
        TLS13
            .into_iter()
            .filter(|(n, _)| has13(n))
            .chain(TLS12.into_iter().filter(|(n, _)| has12(n)))
            .collect()
    }

    /// The protocol versions rustls is given.
    pub fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        static TLS12_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        match (self.tls13(), self.tls12()) {
            (true, true) => &BOTH,
            (true, false) => &TLS13_ONLY,
            _ => &TLS12_ONLY,
        }
    }

    /// The aws-lc-rs provider with the policy's servable suites in its
    /// order, and without the X25519MLKEM768 hybrid rustls offers by
    /// default: no AWS IoT policy names a post-quantum group.
    pub fn provider(self) -> CryptoProvider {
        let mut p = rustls::crypto::aws_lc_rs::default_provider();
        let order: Vec<CipherSuite> = self.suites().into_iter().filter_map(|(_, s)| s).collect();
        p.cipher_suites.retain(|s| order.contains(&s.suite()));
        p.cipher_suites
            .sort_by_key(|s| order.iter().position(|o| *o == s.suite()));
        p.kx_groups.retain(|g| {
            matches!(
                g.name(),
                rustls::NamedGroup::X25519
                    | rustls::NamedGroup::secp256r1
                    | rustls::NamedGroup::secp384r1
            )
        });
        p
    }

    /// The table `serve --security-policy list` prints.
    pub fn table() -> String {
        let mut o = String::new();
        for p in SecurityPolicy::ALL {
            let versions = match (p.tls13(), p.tls12()) {
                (true, true) => "TLS 1.3, 1.2",
                (true, false) => "TLS 1.3",
                _ => "TLS 1.2",
            };
            o.push_str(&format!(
                "{}{}  [{versions}; {}]\n",
                p.name(),
                if p == SecurityPolicy::default() {
                    " (default)"
                } else {
                    ""
                },
                p.regions()
            ));
            let (served, not): (Vec<_>, Vec<_>) =
                p.suites().into_iter().partition(|(_, s)| s.is_some());
            let names = |v: Vec<(&str, Option<CipherSuite>)>| {
                v.into_iter().map(|(n, _)| n).collect::<Vec<_>>().join(" ")
            };
            o.push_str(&format!("  served, in this order: {}\n", names(served)));
            if !not.is_empty() {
                o.push_str(&format!(
                    "  listed by AWS, not servable by rustls (CBC / static RSA / DHE): {}\n",
                    names(not)
                ));
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_follow_the_aws_table() {
        let names =
            |p: SecurityPolicy| -> Vec<&str> { p.suites().into_iter().map(|(n, _)| n).collect() };
        assert_eq!(names(SecurityPolicy::Tls13Only).len(), 3);
        // The default: three 1.3 suites and eighteen 1.2 ones (no DHE).
        assert_eq!(names(SecurityPolicy::Tls13And12).len(), 21);
        assert!(names(SecurityPolicy::Tls12Of2015).contains(&"DHE-RSA-AES256-SHA"));
        assert!(!names(SecurityPolicy::Tls12Of2016).contains(&"AES128-SHA256"));
        assert!(!names(SecurityPolicy::Tls13GovCloud).contains(&"TLS_CHACHA20_POLY1305_SHA256"));
        // What rustls serves: the AEAD suites only, in table order.
        let p = SecurityPolicy::Tls12Only.provider();
        let served: Vec<CipherSuite> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            served,
            [
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ]
        );
        assert!(p
            .kx_groups
            .iter()
            .all(|g| g.name() != rustls::NamedGroup::X25519MLKEM768));
        for p in SecurityPolicy::ALL {
            assert_eq!(SecurityPolicy::from_name(p.name()), Some(p));
        }
    }
}
