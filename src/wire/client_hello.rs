//! A structured TLS ClientHello: record layer + handshake fields +
//! extensions, an encoder that writes valid encodings (mutators break them
//! on purpose) and a parser, so encode → parse round trips.

use serde::{Deserialize, Serialize};

/// Extension type numbers used here.
pub mod ext {
    /// server_name
    pub const SERVER_NAME: u16 = 0;
    /// max_fragment_length (RFC 6066)
    pub const MAX_FRAGMENT_LENGTH: u16 = 1;
    /// supported_groups
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// signature_algorithms
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation
    pub const ALPN: u16 = 16;
    /// padding
    pub const PADDING: u16 = 21;
    /// pre_shared_key
    pub const PRE_SHARED_KEY: u16 = 41;
    /// early_data
    pub const EARLY_DATA: u16 = 42;
    /// supported_versions
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// psk_key_exchange_modes
    pub const PSK_MODES: u16 = 45;
    /// key_share
    pub const KEY_SHARE: u16 = 51;
}

/// One extension: type and raw body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Extension type.
    pub typ: u16,
    /// Body bytes.
    pub data: Vec<u8>,
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut v = ((items.len() * 2) as u16).to_be_bytes().to_vec();
    for i in items {
        v.extend_from_slice(&i.to_be_bytes());
    }
    v
}

impl Extension {
    /// server_name with one host name.
    pub fn server_name(name: &[u8]) -> Extension {
        let mut entry = vec![0u8];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name);
        let mut data = (entry.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&entry);
        Extension {
            typ: ext::SERVER_NAME,
            data,
        }
    }

    /// ALPN protocol list.
    pub fn alpn(protos: &[&[u8]]) -> Extension {
        let mut list = Vec::new();
        for p in protos {
            list.push(p.len() as u8);
            list.extend_from_slice(p);
        }
        let mut data = (list.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        Extension {
            typ: ext::ALPN,
            data,
        }
    }

    /// supported_versions (client form: u8 length).
    pub fn supported_versions(v: &[u16]) -> Extension {
        let mut data = vec![(v.len() * 2) as u8];
        for x in v {
            data.extend_from_slice(&x.to_be_bytes());
        }
        Extension {
            typ: ext::SUPPORTED_VERSIONS,
            data,
        }
    }

    /// supported_groups.
    pub fn groups(g: &[u16]) -> Extension {
        Extension {
            typ: ext::SUPPORTED_GROUPS,
            data: u16_list(g),
        }
    }

    /// signature_algorithms.
    pub fn sig_algs(s: &[u16]) -> Extension {
        Extension {
            typ: ext::SIGNATURE_ALGORITHMS,
            data: u16_list(s),
        }
    }

    /// key_share with one entry.
    pub fn key_share(group: u16, key: &[u8]) -> Extension {
        let mut entry = group.to_be_bytes().to_vec();
        entry.extend_from_slice(&(key.len() as u16).to_be_bytes());
        entry.extend_from_slice(key);
        let mut data = (entry.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&entry);
        Extension {
            typ: ext::KEY_SHARE,
            data,
        }
    }

    /// pre_shared_key with one identity (a ticket the server never issued)
    /// and one binder; it must be the last extension (RFC 8446 4.2.11).
    pub fn pre_shared_key(identity: &[u8], binder: &[u8]) -> Extension {
        let mut ids = (identity.len() as u16).to_be_bytes().to_vec();
        ids.extend_from_slice(identity);
        ids.extend_from_slice(&0u32.to_be_bytes()); // obfuscated_ticket_age
        let mut binders = vec![binder.len() as u8];
        binders.extend_from_slice(binder);
        let mut data = (ids.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&ids);
        data.extend_from_slice(&(binders.len() as u16).to_be_bytes());
        data.extend_from_slice(&binders);
        Extension {
            typ: ext::PRE_SHARED_KEY,
            data,
        }
    }

    /// early_data (empty in a ClientHello).
    pub fn early_data() -> Extension {
        Extension {
            typ: ext::EARLY_DATA,
            data: vec![],
        }
    }

    /// psk_key_exchange_modes: psk_dhe_ke.
    pub fn psk_modes() -> Extension {
        Extension {
            typ: ext::PSK_MODES,
            data: vec![1, 1],
        }
    }

    /// padding of `n` zero bytes.
    pub fn padding(n: usize) -> Extension {
        Extension {
            typ: ext::PADDING,
            data: vec![0; n],
        }
    }
}

/// GREASE values (RFC 8701).
pub const GREASE: u16 = 0x0a0a;
/// X25519.
pub const X25519: u16 = 0x001d;
/// secp256r1.
pub const SECP256R1: u16 = 0x0017;

/// A ClientHello as the fuzzer models it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHello {
    /// Record-layer version (0x0301 for a first ClientHello).
    pub record_version: u16,
    /// legacy_version (0x0303).
    pub legacy_version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// legacy_session_id.
    pub session_id: Vec<u8>,
    /// Cipher suites.
    pub cipher_suites: Vec<u16>,
    /// Compression methods.
    pub compression: Vec<u8>,
    /// Extensions in order.
    pub extensions: Vec<Extension>,
}

/// Why bytes are not one ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloParseError {
    /// Fewer than 5 bytes of a record header.
    #[error("not a ClientHello: truncated record header")]
    TruncatedRecordHeader,
    /// A record of another content type.
    #[error("not a ClientHello: record type {0} is not handshake")]
    NotHandshake(u8),
    /// A record shorter than its length says.
    #[error("not a ClientHello: truncated record")]
    TruncatedRecord,
    /// The handshake message is not a ClientHello.
    #[error("not a ClientHello: handshake type is not client_hello")]
    NotClientHello,
    /// A handshake message shorter than its length says.
    #[error("not a ClientHello: truncated handshake")]
    TruncatedHandshake,
    /// More handshake bytes than the one message.
    #[error("not a ClientHello: bytes after the ClientHello")]
    TrailingHandshake,
    /// A field runs past the end of the message.
    #[error("not a ClientHello: truncated field")]
    TruncatedField,
    /// A cipher suite list of odd length.
    #[error("not a ClientHello: odd cipher suite list")]
    OddCipherSuites,
    /// Bytes after the extensions block.
    #[error("not a ClientHello: bytes after the extensions")]
    TrailingExtensions,
}

impl ClientHello {
    /// A valid TLS 1.3 + 1.2 ClientHello for `sni`, with an X25519 key share
    /// (`key`: 32 bytes) and the suites and algorithms rustls accepts.
    pub fn valid(sni: &str, random: [u8; 32], key: [u8; 32]) -> ClientHello {
        ClientHello {
            record_version: 0x0301,
            legacy_version: 0x0303,
            random,
            session_id: random.to_vec(),
            cipher_suites: vec![0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030],
            compression: vec![0],
            extensions: vec![
                Extension::server_name(sni.as_bytes()),
                Extension::supported_versions(&[0x0304, 0x0303]),
                Extension::groups(&[X25519, SECP256R1]),
                Extension::sig_algs(&[
                    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
                ]),
                Extension::key_share(X25519, &key),
                Extension::psk_modes(),
                Extension {
                    typ: 11,
                    data: vec![1, 0],
                }, // ec_point_formats: uncompressed
            ],
        }
    }

    /// The handshake message body (without the 4-byte handshake header).
    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(256);
        b.extend_from_slice(&self.legacy_version.to_be_bytes());
        b.extend_from_slice(&self.random);
        b.push(self.session_id.len() as u8);
        b.extend_from_slice(&self.session_id);
        b.extend_from_slice(&((self.cipher_suites.len() * 2) as u16).to_be_bytes());
        for s in &self.cipher_suites {
            b.extend_from_slice(&s.to_be_bytes());
        }
        b.push(self.compression.len() as u8);
        b.extend_from_slice(&self.compression);
        let mut exts = Vec::new();
        for e in &self.extensions {
            exts.extend_from_slice(&e.typ.to_be_bytes());
            exts.extend_from_slice(&(e.data.len() as u16).to_be_bytes());
            exts.extend_from_slice(&e.data);
        }
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(&exts);
        b
    }

    /// The handshake message: type 1, u24 length, body.
    pub fn handshake(&self) -> Vec<u8> {
        let body = self.body();
        let mut h = vec![1u8];
        h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        h.extend_from_slice(&body);
        h
    }

    /// The record(s) carrying it, at most `max_fragment` bytes each.
    pub fn records(&self, max_fragment: usize) -> Vec<u8> {
        frame(0x16, self.record_version, &self.handshake(), max_fragment)
    }

    /// One record (the usual encoding).
    pub fn encode(&self) -> Vec<u8> {
        self.records(16_384)
    }

    /// Parses one or more handshake records holding one ClientHello.
    pub fn parse(bytes: &[u8]) -> Result<ClientHello, HelloParseError> {
        use HelloParseError as E;
        let mut hs = Vec::new();
        let mut rest = bytes;
        let mut record_version = None;
        while !rest.is_empty() {
            if rest.len() < 5 {
                return Err(E::TruncatedRecordHeader);
            }
            if rest[0] != 0x16 {
                return Err(E::NotHandshake(rest[0]));
            }
            record_version.get_or_insert(u16::from_be_bytes([rest[1], rest[2]]));
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            let frag = rest.get(5..5 + len).ok_or(E::TruncatedRecord)?;
            hs.extend_from_slice(frag);
            rest = &rest[5 + len..];
        }
        if hs.len() < 4 || hs[0] != 1 {
            return Err(E::NotClientHello);
        }
        let len = (usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]);
        let body = hs.get(4..4 + len).ok_or(E::TruncatedHandshake)?;
        if 4 + len != hs.len() {
            return Err(E::TrailingHandshake);
        }
        let mut r = body;
        let take = |r: &mut &[u8], n: usize| -> Result<Vec<u8>, HelloParseError> {
            let v = r.get(..n).ok_or(E::TruncatedField)?.to_vec();
            *r = &r[n..];
            Ok(v)
        };
        let u16_of = |v: &[u8]| u16::from_be_bytes([v[0], v[1]]);
        let legacy_version = u16_of(&take(&mut r, 2)?);
        let mut random = [0u8; 32];
        random.copy_from_slice(&take(&mut r, 32)?);
        let sid_len = usize::from(take(&mut r, 1)?[0]);
        let session_id = take(&mut r, sid_len)?;
        let cs_len = usize::from(u16_of(&take(&mut r, 2)?));
        if cs_len % 2 != 0 {
            return Err(E::OddCipherSuites);
        }
        let cs = take(&mut r, cs_len)?;
        let cipher_suites = cs.chunks(2).map(u16_of).collect();
        let comp_len = usize::from(take(&mut r, 1)?[0]);
        let compression = take(&mut r, comp_len)?;
        let ext_len = usize::from(u16_of(&take(&mut r, 2)?));
        let mut e = &take(&mut r, ext_len)?[..];
        if !r.is_empty() {
            return Err(E::TrailingExtensions);
        }
        let mut extensions = Vec::new();
        while !e.is_empty() {
            let typ = u16_of(&take(&mut e, 2)?);
            let n = usize::from(u16_of(&take(&mut e, 2)?));
            extensions.push(Extension {
                typ,
                data: take(&mut e, n)?,
            });
        }
        Ok(ClientHello {
            record_version: record_version.unwrap_or(0x0301),
            legacy_version,
            random,
            session_id,
            cipher_suites,
            compression,
            extensions,
        })
    }
}

/// Frames `payload` as records of `typ`, at most `max_fragment` bytes each.
pub fn frame(typ: u8, version: u16, payload: &[u8], max_fragment: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    for chunk in payload.chunks(max_fragment.max(1)) {
        out.push(typ);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any ClientHello the model can hold encodes and parses back to
        /// itself, whatever the record fragment size.
        #[test]
        fn encode_parse_round_trip(
            sni in "[a-z0-9.-]{1,60}",
            random in any::<[u8; 32]>(),
            key in any::<[u8; 32]>(),
            suites in proptest::collection::vec(any::<u16>(), 0..40),
            extra in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..50)), 0..6),
            frag in 1usize..20_000,
        ) {
            let mut h = ClientHello::valid(&sni, random, key);
            h.cipher_suites = suites;
            h.extensions.extend(extra.into_iter().map(|(typ, data)| Extension { typ, data }));
            let parsed = ClientHello::parse(&h.records(frag)).expect("parses");
            prop_assert_eq!(parsed, h);
        }
    }

    #[test]
    fn parse_rejects_what_is_not_a_client_hello() {
        let h = ClientHello::valid("x.example", [1; 32], [2; 32]).encode();
        assert!(ClientHello::parse(&h[..h.len() - 1]).is_err());
        let mut other = h.clone();
        other[0] = 0x17;
        assert!(ClientHello::parse(&other).is_err());
        let mut trailing = h.clone();
        trailing.extend_from_slice(&frame(0x16, 0x0301, &[0], 16_384));
        assert!(ClientHello::parse(&trailing).is_err());
    }
}
