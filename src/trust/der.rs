//! Just enough DER to read a certificate's notBefore date and its
//! SubjectPublicKeyInfo on the verification hot path, without a full parse
//! (x509-parser costs microseconds per certificate; this costs nanoseconds).
//! The certificate has already been parsed and verified by webpki when these
//! run, so malformed input only has to fail safely, never be diagnosed.

use time::{Date, Month};

/// One tag-length-value read from the front of a buffer.
struct Tlv<'a> {
    tag: u8,
    contents: &'a [u8],
    /// What follows it.
    rest: &'a [u8],
    /// The whole TLV, header included.
    whole: &'a [u8],
}

fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        0x81 => (usize::from(*rest.first()?), &rest[1..]),
        0x82 => (
            usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?),
            rest.get(2..)?,
        ),
        0x83 => (
            usize::from(*rest.first()?) << 16
                | usize::from(*rest.get(1)?) << 8
                | usize::from(*rest.get(2)?),
            rest.get(3..)?,
        ),
        _ => return None,
    };
    let contents = rest.get(..len)?;
    let header = input.len() - rest.len();
    Some(Tlv {
        tag,
        contents,
        rest: &rest[len..],
        whole: &input[..header + len],
    })
}

/// The fields of tbsCertificate this module reads.
pub(crate) struct TbsView<'a> {
    /// The notBefore Time TLV's tag and contents.
    not_before: (u8, &'a [u8]),
    /// The notAfter Time TLV's tag and contents.
    not_after: (u8, &'a [u8]),
    /// The whole issuer Name TLV.
    pub(crate) issuer: &'a [u8],
    /// The whole subject Name TLV.
    pub(crate) subject: &'a [u8],
    /// The whole SubjectPublicKeyInfo TLV.
    pub(crate) spki: &'a [u8],
}

fn sequence(t: Tlv<'_>) -> Option<Tlv<'_>> {
    (t.tag == 0x30).then_some(t)
}

/// The contents of a DER TLV (a Name without its SEQUENCE header, as
/// webpki keeps a trust anchor's subject).
pub(crate) fn contents(whole: &[u8]) -> Option<&[u8]> {
    tlv(whole).map(|t| t.contents)
}

/// Walks Certificate → tbsCertificate → validity / subject / subjectPublicKeyInfo.
pub(crate) fn tbs(cert: &[u8]) -> Option<TbsView<'_>> {
    let cert = sequence(tlv(cert)?)?;
    let mut t = sequence(tlv(cert.contents)?)?.contents;
    // Optional [0] EXPLICIT version.
    if t.first() == Some(&0xa0) {
        t = tlv(t)?.rest;
    }
    let t = tlv(t)?.rest; // serialNumber
    let t = tlv(t)?.rest; // signature AlgorithmIdentifier
    let issuer = tlv(t)?;
    let validity = sequence(tlv(issuer.rest)?)?;
    let nb = tlv(validity.contents)?;
    let na = tlv(nb.rest)?;
    let subject = tlv(validity.rest)?;
    let spki = sequence(tlv(subject.rest)?)?;
    Some(TbsView {
        not_before: (nb.tag, nb.contents),
        not_after: (na.tag, na.contents),
        issuer: issuer.whole,
        subject: subject.whole,
        spki: spki.whole,
    })
}

fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// A Time (UTCTime or GeneralizedTime, `...HHMMSSZ`) as Unix seconds.
fn unix_time((tag, v): (u8, &[u8])) -> Option<i64> {
    let (date, rest) = calendar_date((tag, v))?;
    let h = digits(rest.get(4..6)?)?;
    let m = digits(rest.get(6..8)?)?;
    let s = digits(rest.get(8..10)?)?;
    let time = time::Time::from_hms(h as u8, m as u8, s as u8).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// The date of a Time, and the bytes after its year (MMDDHHMMSSZ).
fn calendar_date((tag, v): (u8, &[u8])) -> Option<(Date, &[u8])> {
    let (year, rest) = match tag {
        // UTCTime: YY, 1950-2049 (RFC 5280 4.1.2.5.1).
        0x17 => {
            let yy = digits(v.get(..2)?)? as i32;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, v.get(2..)?)
        }
        // GeneralizedTime: YYYY.
        0x18 => (digits(v.get(..4)?)? as i32, v.get(4..)?),
        _ => return None,
    };
    let month = Month::try_from(digits(rest.get(..2)?)? as u8).ok()?;
    let day = digits(rest.get(2..4)?)? as u8;
    Some((Date::from_calendar_date(year, month, day).ok()?, rest))
}

impl TbsView<'_> {
    /// (notBefore, notAfter) as Unix seconds; `None` when a Time is unreadable.
    pub(crate) fn validity(&self) -> Option<(i64, i64)> {
        Some((unix_time(self.not_before)?, unix_time(self.not_after)?))
    }

    /// Whether `now` (Unix seconds) lies within notBefore..=notAfter.
    pub(crate) fn valid_at(&self, now: i64) -> Option<bool> {
        let (from, to) = self.validity()?;
        Some(from <= now && now <= to)
    }

    /// notBefore as a UTC calendar date (the JDK and browsers compare dates).
    pub(crate) fn not_before_date(&self) -> Option<Date> {
        calendar_date(self.not_before).map(|(d, _)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{PkiBundle, PkiConfig, Role};
    use x509_parser::prelude::*;

    #[test]
    fn agrees_with_x509_parser_on_every_mock_certificate() {
        let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
        for role in Role::ALL {
            let der = pki.cert(role).as_ref();
            let (_, c) = X509Certificate::from_der(der).unwrap();
            let v = tbs(der).unwrap_or_else(|| panic!("{}", role.name()));
            assert_eq!(v.spki, c.public_key().raw, "{}", role.name());
            assert_eq!(v.subject, c.subject().as_raw(), "{}", role.name());
            assert_eq!(v.issuer, c.issuer().as_raw(), "{}", role.name());
            assert_eq!(
                v.not_before_date().unwrap(),
                c.validity().not_before.to_datetime().date(),
                "{}",
                role.name()
            );
            let (nb, na) = (
                c.validity().not_before.timestamp(),
                c.validity().not_after.timestamp(),
            );
            assert_eq!(v.valid_at(nb), Some(true), "{}", role.name());
            assert_eq!(v.valid_at(na), Some(true), "{}", role.name());
            assert_eq!(v.valid_at(nb - 1), Some(false), "{}", role.name());
            assert_eq!(v.valid_at(na + 1), Some(false), "{}", role.name());
        }
    }

    #[test]
    fn generalized_time_and_utc_time_years() {
        let view = |tag, s: &'static [u8]| TbsView {
            not_before: (tag, s),
            not_after: (tag, s),
            issuer: &[],
            subject: &[],
            spki: &[],
        };
        assert_eq!(
            view(0x17, b"190416235959Z")
                .not_before_date()
                .unwrap()
                .to_string(),
            "2019-04-16"
        );
        assert_eq!(
            view(0x17, b"991231000000Z")
                .not_before_date()
                .unwrap()
                .to_string(),
            "1999-12-31"
        );
        assert_eq!(
            view(0x18, b"20500101000000Z")
                .not_before_date()
                .unwrap()
                .to_string(),
            "2050-01-01"
        );
        assert!(view(0x17, b"19041").not_before_date().is_none());
        assert!(view(0x17, b"191332000000Z").not_before_date().is_none());
    }

    #[test]
    fn truncated_input_is_none_not_a_panic() {
        let pki = PkiBundle::generate(PkiConfig::default()).unwrap();
        let der = pki.cert(Role::AtsEccLeaf).as_ref();
        for n in 0..der.len() {
            let _ = tbs(&der[..n]).and_then(|v| v.not_before_date());
        }
        assert!(tbs(&[0x30, 0x84, 0, 0, 0, 1]).is_none());
    }
}
