//! Mutation operators: each takes a valid ClientHello and breaks one thing,
//! field-aware (lengths, lists, SNI, versions, key shares, extensions) or at
//! the byte / record level (truncation, fragmentation, oversized records,
//! interleaved alerts and ChangeCipherSpec, trailing garbage, random bytes).

use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use super::hello::{ext, frame, ClientHello, Extension, GREASE, SECP256R1};

/// The operators, in a fixed order (the seed picks by index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// No mutation: the control.
    Valid,
    /// Handshake length field off by ±N or maxed.
    HandshakeLength,
    /// Record length field off by ±N.
    RecordLength,
    /// Extensions block length off by ±N.
    ExtensionsLength,
    /// Cut at a random byte.
    Truncate,
    /// An extension twice.
    DuplicateExtension,
    /// An unknown (and a GREASE) extension.
    UnknownExtension,
    /// Extensions in reverse order.
    ReorderExtensions,
    /// No cipher suites.
    EmptyCipherSuites,
    /// Thousands of cipher suites.
    OversizedCipherSuites,
    /// server_name with an empty name.
    SniEmpty,
    /// A 16 KiB server name.
    SniHuge,
    /// Non-ASCII bytes in the name.
    SniNonAscii,
    /// Many names in one server_name.
    SniMany,
    /// supported_versions offering only unknown versions.
    UnsupportedVersions,
    /// TLS 1.3 key share but supported_versions saying TLS 1.0.
    InconsistentVersions,
    /// key_share for a group not in supported_groups.
    KeyShareNotOffered,
    /// The handshake split over many tiny records.
    Fragmented,
    /// One record of 2^14 + 1 bytes or more.
    OversizedRecord,
    /// An alert record before the ClientHello.
    InterleavedAlert,
    /// A ChangeCipherSpec record before the ClientHello.
    InterleavedCcs,
    /// Garbage after the ClientHello.
    TrailingGarbage,
    /// Random bytes over a field (random, session id, suites).
    RandomField,
    /// A pre_shared_key for a ticket never issued, last or (wrongly) first.
    UnknownPsk,
    /// early_data offered, with or without a PSK (0-RTT with nothing to resume).
    EarlyData,
}

impl Op {
    /// Every operator.
    pub const ALL: [Op; 25] = [
        Op::Valid,
        Op::HandshakeLength,
        Op::RecordLength,
        Op::ExtensionsLength,
        Op::Truncate,
        Op::DuplicateExtension,
        Op::UnknownExtension,
        Op::ReorderExtensions,
        Op::EmptyCipherSuites,
        Op::OversizedCipherSuites,
        Op::SniEmpty,
        Op::SniHuge,
        Op::SniNonAscii,
        Op::SniMany,
        Op::UnsupportedVersions,
        Op::InconsistentVersions,
        Op::KeyShareNotOffered,
        Op::Fragmented,
        Op::OversizedRecord,
        Op::InterleavedAlert,
        Op::InterleavedCcs,
        Op::TrailingGarbage,
        Op::RandomField,
        Op::UnknownPsk,
        Op::EarlyData,
    ];

    /// snake_case name.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// A mutated case: the bytes to send and what was done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutated {
    /// Operator.
    pub op: Op,
    /// What exactly changed (e.g. "handshake length +3").
    pub detail: String,
    /// Bytes to send.
    pub bytes: Vec<u8>,
}

fn replace_ext(h: &mut ClientHello, typ: u16, e: Extension) {
    if let Some(x) = h.extensions.iter_mut().find(|x| x.typ == typ) {
        *x = e;
    } else {
        h.extensions.push(e);
    }
}

fn delta(rng: &mut impl Rng) -> i64 {
    match rng.gen_range(0..4) {
        0 => -(rng.gen_range(1..=8) as i64),
        1 => rng.gen_range(1..=8) as i64,
        2 => i64::from(u16::MAX),
        _ => -1,
    }
}

/// Offset of the extensions-length field in the encoded record.
fn extensions_len_offset(h: &ClientHello) -> usize {
    5 + 4
        + 2
        + 32
        + 1
        + h.session_id.len()
        + 2
        + h.cipher_suites.len() * 2
        + 1
        + h.compression.len()
}

fn patch_u16(bytes: &mut [u8], at: usize, delta: i64) -> i64 {
    let old = i64::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    let new = (old + delta).clamp(0, i64::from(u16::MAX));
    bytes[at..at + 2].copy_from_slice(&(new as u16).to_be_bytes());
    new - old
}

/// Applies `op` to a valid ClientHello: one function per operator.
pub fn apply(op: Op, base: &ClientHello, rng: &mut impl RngCore) -> Mutated {
    let mut h = base.clone();
    let mut detail = String::new();
    let bytes = match op {
        Op::Valid => h.encode(),
        Op::HandshakeLength => handshake_length(&h, rng, &mut detail),
        Op::RecordLength => record_length(&h, rng, &mut detail),
        Op::ExtensionsLength => extensions_length(&h, rng, &mut detail),
        Op::Truncate => truncate(&h, rng, &mut detail),
        Op::DuplicateExtension => duplicate_extension(&mut h, rng, &mut detail),
        Op::UnknownExtension => unknown_extension(&mut h, rng, &mut detail),
        Op::ReorderExtensions => reorder_extensions(&mut h, rng, &mut detail),
        Op::EmptyCipherSuites => empty_cipher_suites(&mut h, rng, &mut detail),
        Op::OversizedCipherSuites => oversized_cipher_suites(&mut h, rng, &mut detail),
        Op::SniEmpty => sni_empty(&mut h, rng, &mut detail),
        Op::SniHuge => sni_huge(&mut h, rng, &mut detail),
        Op::SniNonAscii => sni_non_ascii(&mut h, rng, &mut detail),
        Op::SniMany => sni_many(&mut h, rng, &mut detail),
        Op::UnsupportedVersions => unsupported_versions(&mut h, rng, &mut detail),
        Op::InconsistentVersions => inconsistent_versions(&mut h, rng, &mut detail),
        Op::KeyShareNotOffered => key_share_not_offered(&mut h, rng, &mut detail),
        Op::Fragmented => fragmented(&h, rng, &mut detail),
        Op::OversizedRecord => oversized_record(&mut h, rng, &mut detail),
        Op::InterleavedAlert => interleaved_alert(&h, rng, &mut detail),
        Op::InterleavedCcs => interleaved_ccs(&h, rng, &mut detail),
        Op::TrailingGarbage => trailing_garbage(&h, rng, &mut detail),
        Op::RandomField => random_field(&mut h, rng, &mut detail),
        Op::UnknownPsk => unknown_psk(&mut h, rng, &mut detail),
        Op::EarlyData => early_data(&mut h, rng, &mut detail),
    };
    Mutated { op, detail, bytes }
}

/// `Op::HandshakeLength`.
fn handshake_length(h: &ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let mut b = h.encode();
    let old = (u32::from(b[6]) << 16) | (u32::from(b[7]) << 8) | u32::from(b[8]);
    let d = delta(rng);
    let new = (i64::from(old) + d).clamp(0, 0xff_ffff) as u32;
    b[6..9].copy_from_slice(&new.to_be_bytes()[1..]);
    *detail = format!("handshake length {:+}", i64::from(new) - i64::from(old));
    b
}

/// `Op::RecordLength`.
fn record_length(h: &ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let mut b = h.encode();
    let d = patch_u16(&mut b, 3, delta(rng).clamp(-8, 8));
    *detail = format!("record length {d:+}");
    b
}

/// `Op::ExtensionsLength`.
fn extensions_length(h: &ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let mut b = h.encode();
    let at = extensions_len_offset(h);
    let d = patch_u16(&mut b, at, delta(rng));
    *detail = format!("extensions length {d:+}");
    b
}

/// `Op::Truncate`.
fn truncate(h: &ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let b = h.encode();
    let at = rng.gen_range(0..b.len());
    *detail = format!("cut at byte {at} of {}", b.len());
    b[..at].to_vec()
}

/// `Op::DuplicateExtension`.
fn duplicate_extension(
    h: &mut ClientHello,
    rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    let i = rng.gen_range(0..h.extensions.len());
    let e = h.extensions[i].clone();
    *detail = format!("extension {} twice", e.typ);
    h.extensions.push(e);
    h.encode()
}

/// `Op::UnknownExtension`.
fn unknown_extension(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    h.extensions.insert(
        0,
        Extension {
            typ: GREASE,
            data: vec![],
        },
    );
    let typ = 0xfe00 + rng.gen_range(0..0xff);
    h.extensions.push(Extension {
        typ,
        data: (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect(),
    });
    *detail = format!("GREASE + unknown extension {typ:#06x}");
    h.encode()
}

/// `Op::ReorderExtensions`.
fn reorder_extensions(
    h: &mut ClientHello,
    _rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    h.extensions.reverse();
    *detail = "extensions reversed".into();
    h.encode()
}

/// `Op::EmptyCipherSuites`.
fn empty_cipher_suites(
    h: &mut ClientHello,
    _rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    h.cipher_suites.clear();
    "no cipher suites".clone_into(detail);
    h.encode()
}

/// `Op::OversizedCipherSuites`.
fn oversized_cipher_suites(
    h: &mut ClientHello,
    rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    let n = rng.gen_range(2_000..8_000);
    h.cipher_suites = (0..n).map(|i| 0x0a00 + (i % 0xf000) as u16).collect();
    *detail = format!("{n} cipher suites");
    h.encode()
}

/// `Op::SniEmpty`.
fn sni_empty(h: &mut ClientHello, _rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    replace_ext(h, ext::SERVER_NAME, Extension::server_name(b""));
    "empty server name".clone_into(detail);
    h.encode()
}

/// `Op::SniHuge`.
fn sni_huge(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let name = vec![b'a'; rng.gen_range(300..16_000)];
    *detail = format!("server name of {} bytes", name.len());
    replace_ext(h, ext::SERVER_NAME, Extension::server_name(&name));
    h.encode()
}

/// `Op::SniNonAscii`.
fn sni_non_ascii(h: &mut ClientHello, _rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    replace_ext(
        h,
        ext::SERVER_NAME,
        Extension::server_name("a1b2c3-ats.iot.üs-east-1.amazonaws.com\u{0}".as_bytes()),
    );
    "non-ASCII and NUL in the server name".clone_into(detail);
    h.encode()
}

/// `Op::SniMany`.
fn sni_many(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let n = rng.gen_range(2..200);
    let mut list = Vec::new();
    for i in 0..n {
        let name = format!("d{i}-ats.iot.us-east-1.amazonaws.com");
        list.push(0u8);
        list.extend_from_slice(&(name.len() as u16).to_be_bytes());
        list.extend_from_slice(name.as_bytes());
    }
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend_from_slice(&list);
    replace_ext(
        h,
        ext::SERVER_NAME,
        Extension {
            typ: ext::SERVER_NAME,
            data,
        },
    );
    *detail = format!("{n} server names");
    h.encode()
}

/// `Op::UnsupportedVersions`.
fn unsupported_versions(
    h: &mut ClientHello,
    _rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    replace_ext(
        h,
        ext::SUPPORTED_VERSIONS,
        Extension::supported_versions(&[0x7f1c, 0x0305]),
    );
    h.legacy_version = 0x0305;
    "only unknown versions".clone_into(detail);
    h.encode()
}

/// `Op::InconsistentVersions`.
fn inconsistent_versions(
    h: &mut ClientHello,
    _rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    replace_ext(
        h,
        ext::SUPPORTED_VERSIONS,
        Extension::supported_versions(&[0x0301]),
    );
    "TLS 1.3 key share, supported_versions = TLS 1.0".clone_into(detail);
    h.encode()
}

/// `Op::KeyShareNotOffered`.
fn key_share_not_offered(
    h: &mut ClientHello,
    _rng: &mut impl RngCore,
    detail: &mut String,
) -> Vec<u8> {
    replace_ext(h, ext::SUPPORTED_GROUPS, Extension::groups(&[SECP256R1]));
    "key_share X25519, supported_groups P-256 only".clone_into(detail);
    h.encode()
}

/// `Op::Fragmented`.
fn fragmented(h: &ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let size = rng.gen_range(1..16);
    *detail = format!("handshake in {size}-byte records");
    h.records(size)
}

/// `Op::OversizedRecord`.
fn oversized_record(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let n = 16_385 + rng.gen_range(0..2_000);
    h.extensions.push(Extension::padding(n));
    let hs = h.handshake();
    *detail = format!("one record of {} bytes", hs.len());
    let mut b = vec![0x16, 0x03, 0x01];
    b.extend_from_slice(&(hs.len().min(0xffff) as u16).to_be_bytes());
    b.extend_from_slice(&hs);
    b
}

/// `Op::InterleavedAlert`.
fn interleaved_alert(h: &ClientHello, _rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let mut b = frame(0x15, 0x0303, &[1, 0], 16);
    b.extend_from_slice(&h.encode());
    "warning close_notify alert first".clone_into(detail);
    b
}

/// `Op::InterleavedCcs`.
fn interleaved_ccs(h: &ClientHello, _rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let mut b = frame(0x14, 0x0303, &[1], 16);
    b.extend_from_slice(&h.encode());
    "ChangeCipherSpec first".clone_into(detail);
    b
}

/// `Op::TrailingGarbage`.
fn trailing_garbage(h: &ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let mut b = h.encode();
    let n = rng.gen_range(1..256);
    b.extend((0..n).map(|_| rng.gen::<u8>()));
    *detail = format!("{n} bytes of garbage after");
    b
}

/// `Op::RandomField`.
fn random_field(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    match rng.gen_range(0..3) {
        0 => {
            rng.fill_bytes(&mut h.random);
            "random random".clone_into(detail);
        }
        1 => {
            h.session_id = (0..rng.gen_range(0..33)).map(|_| rng.gen()).collect();
            "random session id".clone_into(detail);
        }
        _ => {
            h.cipher_suites = (0..rng.gen_range(1..20)).map(|_| rng.gen()).collect();
            "random cipher suites".clone_into(detail);
        }
    }
    h.encode()
}

/// `Op::UnknownPsk`.
fn unknown_psk(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    let identity: Vec<u8> = (0..rng.gen_range(1..200)).map(|_| rng.gen()).collect();
    let binder: Vec<u8> = (0..32).map(|_| rng.gen()).collect();
    let psk = Extension::pre_shared_key(&identity, &binder);
    if rng.gen_bool(0.5) {
        h.extensions.push(psk);
        *detail = format!("unknown {}-byte PSK identity, last", identity.len());
    } else {
        h.extensions.insert(0, psk);
        *detail = format!("unknown {}-byte PSK identity, not last", identity.len());
    }
    h.encode()
}

/// `Op::EarlyData`.
fn early_data(h: &mut ClientHello, rng: &mut impl RngCore, detail: &mut String) -> Vec<u8> {
    h.extensions.push(Extension::early_data());
    if rng.gen_bool(0.5) {
        h.extensions
            .push(Extension::pre_shared_key(b"never-issued", &[0; 32]));
        "early_data with an unknown PSK".clone_into(detail);
    } else {
        "early_data without a PSK".clone_into(detail);
    }
    h.encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn base() -> ClientHello {
        ClientHello::valid(
            "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com",
            [7; 32],
            [9; 32],
        )
    }

    /// The bytes that differ between two equally long encodings.
    fn diff(a: &[u8], b: &[u8]) -> Vec<usize> {
        assert_eq!(a.len(), b.len());
        (0..a.len()).filter(|&i| a[i] != b[i]).collect()
    }

    /// The signed delta a detail string claims (`... +3`).
    fn claimed(detail: &str) -> i64 {
        detail.rsplit(' ').next().unwrap().parse().unwrap()
    }

    proptest! {
        /// Length operators change exactly the field they name, by exactly
        /// the delta they report, and nothing else.
        #[test]
        fn length_ops_change_only_their_field(seed in any::<u64>()) {
            let h = base();
            let valid = h.encode();
            for (op, at, width) in [
                (Op::HandshakeLength, 6usize, 3usize),
                (Op::RecordLength, 3, 2),
                (Op::ExtensionsLength, extensions_len_offset(&h), 2),
            ] {
                let m = apply(op, &h, &mut ChaCha8Rng::seed_from_u64(seed));
                let changed = diff(&valid, &m.bytes);
                prop_assert!(changed.iter().all(|&i| i >= at && i < at + width), "{:?} changed {:?}", op, changed);
                let read = |b: &[u8]| b[at..at + width].iter().fold(0i64, |acc, &x| acc * 256 + i64::from(x));
                prop_assert_eq!(read(&m.bytes) - read(&valid), claimed(&m.detail));
            }
        }

        /// Truncation yields a strict prefix; operators that rebuild the
        /// message through the model still produce a parseable ClientHello
        /// with the change in it (they test semantics, not framing).
        #[test]
        fn structural_ops_stay_parseable(seed in any::<u64>()) {
            let h = base();
            let t = apply(Op::Truncate, &h, &mut ChaCha8Rng::seed_from_u64(seed));
            prop_assert!(t.bytes.len() < h.encode().len() && h.encode().starts_with(&t.bytes));
            for op in [Op::DuplicateExtension, Op::UnknownExtension, Op::ReorderExtensions, Op::EmptyCipherSuites,
                       Op::OversizedCipherSuites, Op::SniEmpty, Op::SniHuge, Op::SniMany, Op::UnsupportedVersions,
                       Op::InconsistentVersions, Op::KeyShareNotOffered, Op::Fragmented, Op::RandomField,
                       Op::UnknownPsk, Op::EarlyData] {
                let m = apply(op, &h, &mut ChaCha8Rng::seed_from_u64(seed));
                let parsed = ClientHello::parse(&m.bytes);
                prop_assert!(parsed.is_ok(), "{:?}: {:?}", op, parsed);
                // Fragmentation changes framing only; every other op changes the message.
                prop_assert_eq!(parsed.unwrap() == h, op == Op::Fragmented, "{:?}", op);
            }
        }
    }

    #[test]
    fn every_op_is_deterministic_per_rng_seed() {
        for op in Op::ALL {
            let a = apply(op, &base(), &mut ChaCha8Rng::seed_from_u64(42));
            let b = apply(op, &base(), &mut ChaCha8Rng::seed_from_u64(42));
            assert_eq!(a, b, "{op:?}");
            assert_eq!(a.op, op);
            assert!(!a.bytes.is_empty() || op == Op::Truncate);
        }
        assert_eq!(
            apply(Op::Valid, &base(), &mut ChaCha8Rng::seed_from_u64(1)).bytes,
            base().encode()
        );
    }
}
