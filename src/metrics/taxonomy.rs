//! The failure taxonomy, phase × cause. This file holds the `verify` phase;
//! the dial, tls, mqtt and hold phases join it as the engine arrives.

use std::fmt;

/// Why certificate-chain validation rejected a server chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum VerifyCause {
    /// No path from the leaf to any anchor of the trust store.
    UnknownIssuer,
    /// A certificate on the path is past its notAfter.
    Expired,
    /// A certificate on the path is before its notBefore.
    NotYetValid,
    /// The leaf does not cover the server name.
    NameMismatch,
    /// A signature on the path does not verify.
    BadSignature,
    /// A path was found but a distrust policy rejected it; holds the policy name.
    Distrusted(String),
    /// Anything else (malformed certificate, unsupported algorithm, ...).
    Other,
}

impl VerifyCause {
    /// The label used in tables, results and the matrix: `unknown_issuer`,
    /// `distrusted(SYMANTEC_TLS)`, ...
    pub fn label(&self) -> String {
        match self {
            VerifyCause::UnknownIssuer => "unknown_issuer".into(),
            VerifyCause::Expired => "expired".into(),
            VerifyCause::NotYetValid => "not_yet_valid".into(),
            VerifyCause::NameMismatch => "name_mismatch".into(),
            VerifyCause::BadSignature => "bad_signature".into(),
            VerifyCause::Distrusted(p) => format!("distrusted({p})"),
            VerifyCause::Other => "other".into(),
        }
    }
}

impl fmt::Display for VerifyCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_design_taxonomy() {
        assert_eq!(VerifyCause::UnknownIssuer.label(), "unknown_issuer");
        assert_eq!(VerifyCause::NotYetValid.label(), "not_yet_valid");
        assert_eq!(
            VerifyCause::Distrusted("SYMANTEC_TLS".into()).to_string(),
            "distrusted(SYMANTEC_TLS)"
        );
    }
}
