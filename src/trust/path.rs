//! Path builders: which certificates a device's TLS library strings
//! together between the server's leaf and one of its anchors. Libraries
//! agree when exactly one path exists; they differ when the server sends a
//! cross-certificate, because some follow the server's list before they look
//! at their own store and never retry.
//!
//! Each builder here only *chooses* a path, by name (issuer DN = subject
//! DN, as all of them match first); webpki then verifies exactly that path
//! (signatures, validity, constraints, name), so the checks stay those of
//! one audited implementation and only the search order is modelled.

use super::der;

/// How a library searches for the issuer of each certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathBuilder {
    /// rustls-webpki: tries every candidate path until one verifies.
    Webpki,
    /// The trust store first at every step, then the server's list:
    /// OpenSSL 1.1+ (`crypto/x509/x509_vfy.c`, `build_chain()` with
    /// `X509_V_FLAG_TRUSTED_FIRST`, the default), mbedTLS
    /// (`library/x509_crt.c`, `x509_crt_find_parent()` looks in `trust_ca`
    /// before the chain), Go (`crypto/x509/verify.go`, `buildChains`) and
    /// Java (`sun.security.provider.certpath.ForwardBuilder`).
    TrustedFirst,
    /// OpenSSL up to 1.0.2 (`crypto/x509/x509_vfy.c`, `X509_verify_cert()`):
    /// follows the server's certificates as far as they go, then asks the
    /// store for the issuer of the last one. With `alt_chains` (1.0.1n /
    /// 1.0.2b and later) a failure is retried by dropping certificates from
    /// the top until one's issuer is in the store.
    UntrustedFirst {
        /// The alternative-chains retry.
        alt_chains: bool,
    },
    /// wolfSSL (`src/internal.c`, `ProcessPeerCerts()`): verifies the
    /// server's CA certificates from the last one down, each against the
    /// store plus the ones already accepted, then the leaf. Without
    /// `WOLFSSL_ALT_CERT_CHAINS` the first CA certificate it cannot verify
    /// fails the handshake; with it, that certificate is skipped.
    Wolfssl {
        /// `WOLFSSL_ALT_CERT_CHAINS`.
        alt_chains: bool,
    },
    /// GnuTLS 3.7 (`lib/x509/verify-high.c`,
    /// `gnutls_x509_trust_list_verify_crt2()`): orders the server's list
    /// from the leaf and looks up the issuer of its last certificate in the
    /// trust list; when that fails it tries once more without the last
    /// certificate (the differential test observes exactly one retry: a
    /// store two certificates below the top is not found).
    Gnutls,
}

impl PathBuilder {
    /// Name as scenarios spell it: `webpki`, `trusted-first`,
    /// `untrusted-first`, `untrusted-first-no-alt-chains`, `wolfssl`,
    /// `wolfssl-no-alt-chains`.
    pub fn name(self) -> &'static str {
        match self {
            PathBuilder::Webpki => "webpki",
            PathBuilder::TrustedFirst => "trusted-first",
            PathBuilder::UntrustedFirst { alt_chains: true } => "untrusted-first",
            PathBuilder::UntrustedFirst { alt_chains: false } => "untrusted-first-no-alt-chains",
            PathBuilder::Wolfssl { alt_chains: true } => "wolfssl",
            PathBuilder::Wolfssl { alt_chains: false } => "wolfssl-no-alt-chains",
            PathBuilder::Gnutls => "gnutls",
        }
    }

    /// Every builder.
    pub const ALL: [PathBuilder; 7] = [
        PathBuilder::Webpki,
        PathBuilder::TrustedFirst,
        PathBuilder::UntrustedFirst { alt_chains: true },
        PathBuilder::UntrustedFirst { alt_chains: false },
        PathBuilder::Wolfssl { alt_chains: true },
        PathBuilder::Wolfssl { alt_chains: false },
        PathBuilder::Gnutls,
    ];

    /// Parses [`PathBuilder::name`].
    pub fn parse(s: &str) -> Option<PathBuilder> {
        PathBuilder::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// The path a builder chose: indexes into the intermediates the server
/// sent (leaf side first) and the anchor it ends at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenPath {
    /// Indexes into the server's intermediates, in path order.
    pub intermediates: Vec<usize>,
    /// Index into the profile's anchors.
    pub anchor: usize,
}

/// Why a builder found no path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoPath {
    /// No anchor issues anything the search reached.
    UnknownIssuer,
    /// The search stopped at a cross-certificate with an untrusted issuer
    /// although an anchor issues a certificate below it: the retry the
    /// library lacks would have found that path.
    NoAltChains,
}

/// Longest path any builder follows (OpenSSL's default depth is 100;
/// device stacks use 8 or less; ours never exceed 5).
const MAX_DEPTH: usize = 8;

/// A certificate's issuer and subject Names, as TLVs, and whether it is
/// within its validity at the device's time.
#[derive(Clone, Copy)]
struct Names<'a> {
    issuer: &'a [u8],
    subject: &'a [u8],
    valid: bool,
}

fn names(der: &[u8], now: i64) -> Option<Names<'_>> {
    let t = der::tbs(der)?;
    Some(Names {
        issuer: t.issuer,
        subject: t.subject,
        valid: t.valid_at(now)?,
    })
}

/// The server's certificates and the store's subjects, read once.
struct Search<'a, A> {
    leaf: Names<'a>,
    sent: Vec<Names<'a>>,
    /// Anchor subjects as webpki keeps them (Name contents, no header).
    anchors: &'a [A],
}

impl<'a, A: AsRef<[u8]>> Search<'a, A> {
    fn anchor_for(&self, cert: Names<'_>) -> Option<usize> {
        let want = der::contents(cert.issuer)?;
        self.anchors.iter().position(|a| a.as_ref() == want)
    }

    /// The first sent certificate, not yet on `path`, whose subject is
    /// `cert`'s issuer (self-issued certificates never issue themselves).
    fn sent_issuer(&self, cert: Names<'_>, path: &[usize]) -> Option<usize> {
        self.sent.iter().enumerate().position(|(i, c)| {
            c.subject == cert.issuer && c.subject != c.issuer && !path.contains(&i)
        })
    }

    fn at(&self, path: &[usize]) -> Names<'a> {
        path.last().map(|&i| self.sent[i]).unwrap_or(self.leaf)
    }

    fn anchor_for_subject(&self, cert: Names<'_>) -> Option<usize> {
        let want = der::contents(cert.subject)?;
        self.anchors.iter().position(|a| a.as_ref() == want)
    }

    /// Trust store first at each step, then the server's list.
    fn trusted_first(&self) -> Result<ChosenPath, NoPath> {
        let mut path = Vec::new();
        while path.len() <= MAX_DEPTH {
            let cur = self.at(&path);
            if let Some(anchor) = self.anchor_for(cur) {
                return Ok(ChosenPath {
                    intermediates: path,
                    anchor,
                });
            }
            path.push(self.sent_issuer(cur, &path).ok_or(NoPath::UnknownIssuer)?);
        }
        Err(NoPath::UnknownIssuer)
    }

    /// The server's list as far as it goes, then the store; optionally the
    /// alternative-chains retry from the top down.
    fn untrusted_first(&self, alt_chains: bool) -> Result<ChosenPath, NoPath> {
        self.server_order_first(if alt_chains { usize::MAX } else { 0 })
    }

    /// The server's list from the leaf, then the store; up to `retries`
    /// shorter paths, dropping certificates from the top.
    fn server_order_first(&self, retries: usize) -> Result<ChosenPath, NoPath> {
        let mut path = Vec::new();
        while path.len() < MAX_DEPTH {
            match self.sent_issuer(self.at(&path), &path) {
                Some(i) => path.push(i),
                None => break,
            }
        }
        if let Some(anchor) = self.anchor_for(self.at(&path)) {
            return Ok(ChosenPath {
                intermediates: path,
                anchor,
            });
        }
        // X509_verify_cert's retry: for j from the top down, is the issuer
        // of the certificate below it in the store? Truncate there.
        let retry = (0..path.len()).rev().enumerate().find_map(|(tries, keep)| {
            let anchor = self.anchor_for(self.at(&path[..keep]))?;
            Some((
                tries,
                ChosenPath {
                    intermediates: path[..keep].to_vec(),
                    anchor,
                },
            ))
        });
        match retry {
            Some((tries, p)) if tries < retries => Ok(p),
            Some(_) => Err(NoPath::NoAltChains),
            None => Err(NoPath::UnknownIssuer),
        }
    }

    /// ProcessPeerCerts: CA certificates from the last sent one down, each
    /// accepted when its issuer is an anchor or an accepted certificate and
    /// it is within its validity (a CA whose check failed is not added, so
    /// a device with a wrong clock then finds no signer for the leaf and
    /// logs ASN_NO_SIGNER_E). Only a missing signer is forgiven, and only
    /// with alternative chains; without them it fails the handshake once
    /// the leaf has verified.
    fn wolfssl(&self, alt_chains: bool) -> Result<ChosenPath, NoPath> {
        let mut accepted = vec![false; self.sent.len()];
        let mut no_signer = false;
        // Observed with wolfSSL 5.5.4 (not traced to a line of its source):
        // when the chain carries a certificate whose subject and issuer the
        // store both hold (a cross-certificate it "already had"), a CA
        // outside its validity still lets the leaf find its signer, and
        // the date is what fails; otherwise the leaf has no signer.
        let dates_reported = self
            .sent
            .iter()
            .any(|c| self.anchor_for(*c).is_some() && self.anchor_for_subject(*c).is_some());
        for i in (0..self.sent.len()).rev() {
            let c = self.sent[i];
            let signer = self.anchor_for(c).is_some()
                || (0..self.sent.len()).any(|j| accepted[j] && self.sent[j].subject == c.issuer);
            if !signer {
                no_signer = true;
            } else if c.valid || dates_reported {
                accepted[i] = true;
            }
        }
        // The leaf, then each signer down to an anchor: the store's copy of
        // a subject wins over an accepted certificate with that subject.
        let mut path = Vec::new();
        while path.len() <= MAX_DEPTH {
            let cur = self.at(&path);
            if let Some(anchor) = self.anchor_for(cur) {
                if no_signer && !alt_chains {
                    return Err(NoPath::NoAltChains);
                }
                return Ok(ChosenPath {
                    intermediates: path,
                    anchor,
                });
            }
            let next = (0..self.sent.len())
                .find(|&j| accepted[j] && self.sent[j].subject == cur.issuer && !path.contains(&j))
                .ok_or(NoPath::UnknownIssuer)?;
            path.push(next);
        }
        Err(NoPath::UnknownIssuer)
    }
}

/// Chooses the path `builder` would take from `leaf` through the server's
/// `intermediates` to one of `anchor_subjects` (Name contents, as
/// `TrustAnchor::subject` holds them), at the device's time `now` (Unix
/// seconds; only wolfSSL lets validity change the path). `None` for
/// [`PathBuilder::Webpki`], which searches every path itself, and for
/// certificates too malformed to read (webpki then reports what is wrong).
pub fn choose<I: AsRef<[u8]>, A: AsRef<[u8]>>(
    builder: PathBuilder,
    leaf: &[u8],
    intermediates: &[I],
    anchor_subjects: &[A],
    now: i64,
) -> Option<Result<ChosenPath, NoPath>> {
    if builder == PathBuilder::Webpki {
        return None;
    }
    let search = Search {
        leaf: names(leaf, now)?,
        sent: intermediates
            .iter()
            .map(|d| names(d.as_ref(), now))
            .collect::<Option<Vec<_>>>()?,
        anchors: anchor_subjects,
    };
    Some(match builder {
        PathBuilder::Webpki => unreachable!("returned above"),
        PathBuilder::TrustedFirst => search.trusted_first(),
        PathBuilder::UntrustedFirst { alt_chains } => search.untrusted_first(alt_chains),
        PathBuilder::Wolfssl { alt_chains } => search.wolfssl(alt_chains),
        PathBuilder::Gnutls => search.server_order_first(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{ChainKind, PkiBundle, PkiConfig, Role};

    fn subjects(pki: &PkiBundle, roots: &[Role]) -> Vec<Vec<u8>> {
        roots
            .iter()
            .map(|r| {
                let t = der::tbs(pki.cert(*r).as_ref()).unwrap();
                der::contents(t.subject).unwrap().to_vec()
            })
            .collect()
    }

    fn run(
        pki: &PkiBundle,
        b: PathBuilder,
        chain: ChainKind,
        roots: &[Role],
    ) -> Result<ChosenPath, NoPath> {
        let served = pki.chain(chain);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let subj = subjects(pki, roots);
        choose(b, served.certs[0].as_ref(), &served.certs[1..], &subj, now).unwrap()
    }

    #[test]
    fn cross_sign_separates_the_builders() {
        let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
        let ats = [Role::AtsRsaRoot];
        let xs = ChainKind::AtsRsaCrossSigned;
        // Store first: M01 -> Amazon Root CA 1, the cross-certificate unused.
        assert_eq!(
            run(&pki, PathBuilder::TrustedFirst, xs, &ats),
            Ok(ChosenPath {
                intermediates: vec![0],
                anchor: 0
            })
        );
        // Server's list first: up to the cross-certificate, whose issuer
        // (Starfield) is not held; only the retry finds M01 -> Root CA 1.
        let no_alt = PathBuilder::UntrustedFirst { alt_chains: false };
        assert_eq!(run(&pki, no_alt, xs, &ats), Err(NoPath::NoAltChains));
        let alt = PathBuilder::UntrustedFirst { alt_chains: true };
        assert_eq!(run(&pki, alt, xs, &ats).unwrap().intermediates, vec![0]);
        // A Starfield-only device needs the cross-certificate, and every
        // builder takes it.
        for b in PathBuilder::ALL.into_iter().skip(1) {
            if b == PathBuilder::Gnutls {
                continue;
            }
            let p = run(&pki, b, xs, &[Role::StarfieldRoot]).unwrap();
            assert_eq!(p.intermediates, vec![0, 1], "{}", b.name());
        }
    }

    #[test]
    fn wolfssl_fails_on_an_unverifiable_top_certificate() {
        let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
        let class2 = ChainKind::AtsRsaClass2;
        let strict = PathBuilder::Wolfssl { alt_chains: false };
        let alt = PathBuilder::Wolfssl { alt_chains: true };
        // G2-by-Class2 cannot be verified by an Amazon-only device.
        assert_eq!(
            run(&pki, strict, class2, &[Role::AtsRsaRoot]),
            Err(NoPath::NoAltChains)
        );
        assert_eq!(
            run(&pki, alt, class2, &[Role::AtsRsaRoot])
                .unwrap()
                .intermediates,
            vec![0]
        );
        // GnuTLS retries once: M01 is one below the top of the xsign chain,
        // two below the top of the Class 2 chain.
        assert!(run(
            &pki,
            PathBuilder::Gnutls,
            ChainKind::AtsRsaCrossSigned,
            &[Role::AtsRsaRoot]
        )
        .is_ok());
        assert_eq!(
            run(&pki, PathBuilder::Gnutls, class2, &[Role::AtsRsaRoot]),
            Err(NoPath::NoAltChains)
        );
        // A Class 2-only device walks the whole served chain.
        assert_eq!(
            run(&pki, strict, class2, &[Role::StarfieldClass2Root])
                .unwrap()
                .intermediates,
            vec![0, 1, 2]
        );
        // Nothing to reach: plain unknown issuer.
        assert_eq!(
            run(&pki, strict, ChainKind::UnknownCa, &[Role::AtsRsaRoot]),
            Err(NoPath::UnknownIssuer)
        );
    }

    #[test]
    fn builder_names_round_trip() {
        for b in PathBuilder::ALL {
            assert_eq!(PathBuilder::parse(b.name()), Some(b));
        }
    }
}
