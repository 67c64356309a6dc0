//! The record layer of an established connection, run from the traffic
//! keys rustls hands over (`dangerous_extract_secrets`), so a held
//! connection keeps two AEAD keys and two sequence numbers instead of a
//! whole rustls connection (whose peer certificate chain alone is ~4.5 KiB
//! for the ATS chains).
//!
//! Record protection follows RFC 8446 §5.2-5.3 (TLS 1.3: nonce = IV xor
//! sequence, the header is the additional data, the real content type is
//! the last non-zero byte of the plaintext) and RFC 5288 §3 / RFC 7905 §2
//! (TLS 1.2 AES-GCM: 4-byte salt + 8-byte explicit nonce on the wire;
//! ChaCha20-Poly1305: IV xor sequence; additional data = sequence, type,
//! version, plaintext length).

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use rustls::{ConnectionTrafficSecrets, ExtractedSecrets, ProtocolVersion};

/// Content types (RFC 8446 §5.1).
pub(crate) mod content {
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APPLICATION_DATA: u8 = 23;
}

const TAG_LEN: usize = 16;
/// Largest plaintext per record.
pub(crate) const MAX_FRAGMENT: usize = 16_384;
/// Record header length.
pub(crate) const HEADER_LEN: usize = 5;

/// Why the record layer could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A record failed authentication.
    #[error("TLS record failed to decrypt (bad_record_mac)")]
    BadRecordMac,
    /// A malformed record or inner plaintext.
    #[error("malformed TLS record: {0}")]
    Malformed(&'static str),
    /// The peer sent a fatal alert or a warning other than close_notify.
    #[error("peer sent TLS alert {0}")]
    Alert(u8),
    /// A post-handshake message the key-only layer cannot follow.
    #[error("peer sent a TLS KeyUpdate (type {0}); a held connection on extracted keys cannot follow it")]
    Unsupported(u8),
    /// rustls would not hand the keys over.
    #[error("extracting the traffic keys: {0}")]
    Extract(String),
}

/// One direction: key, IV and the next sequence number.
struct Direction {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Direction {
    fn new(seq: u64, s: ConnectionTrafficSecrets) -> Result<Direction, RecordError> {
        let (alg, key, iv) = match s {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => {
                return Err(RecordError::Extract(
                    "an AEAD this layer does not know".into(),
                ))
            }
        };
        let key = UnboundKey::new(alg, key.as_ref())
            .map_err(|_| RecordError::Extract("bad key length".into()))?;
        let iv: [u8; 12] = iv
            .as_ref()
            .try_into()
            .map_err(|_| RecordError::Extract("IV is not 12 bytes".into()))?;
        Ok(Direction {
            key: LessSafeKey::new(key),
            iv,
            seq,
        })
    }

    /// IV xor the sequence number, right-aligned; advances the sequence.
    fn next_nonce(&mut self) -> [u8; 12] {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        self.seq += 1;
        n
    }
}

/// TLS 1.2 additional data: sequence, type, version, plaintext length.
fn aad12(seq: u64, typ: u8, len: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = typ;
    a[9..11].copy_from_slice(&[3, 3]);
    a[11..].copy_from_slice(&(len as u16).to_be_bytes());
    a
}

/// What one opened record holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// Application data at this range of the record buffer.
    Data(std::ops::Range<usize>),
    /// The peer's close_notify.
    CloseNotify,
    /// Something to skip (a NewSessionTicket, a warning alert).
    Nothing,
}

/// The traffic keys of an established connection.
pub struct Keys {
    tls13: bool,
    /// TLS 1.2 AES-GCM carries an explicit nonce in each record.
    explicit_nonce: bool,
    tx: Direction,
    rx: Direction,
}

impl Keys {
    /// The keys rustls extracted for a connection of `version`.
    pub(crate) fn new(
        secrets: ExtractedSecrets,
        version: Option<ProtocolVersion>,
    ) -> Result<Keys, RecordError> {
        let tls13 = match version {
            Some(ProtocolVersion::TLSv1_3) => true,
            Some(ProtocolVersion::TLSv1_2) => false,
            _ => return Err(RecordError::Extract("not TLS 1.2 or 1.3".into())),
        };
        let explicit_nonce = !tls13
            && !matches!(
                secrets.tx.1,
                ConnectionTrafficSecrets::Chacha20Poly1305 { .. }
            );
        Ok(Keys {
            tls13,
            explicit_nonce,
            tx: Direction::new(secrets.tx.0, secrets.tx.1)?,
            rx: Direction::new(secrets.rx.0, secrets.rx.1)?,
        })
    }

    /// Appends `plain` to `out` as records of `typ`.
    pub(crate) fn seal(&mut self, typ: u8, plain: &[u8], out: &mut Vec<u8>) {
        for chunk in plain.chunks(MAX_FRAGMENT) {
            self.seal_one(typ, chunk, out);
        }
    }

    fn seal_one(&mut self, typ: u8, chunk: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        if self.tls13 {
            let body = chunk.len() + 1 + TAG_LEN;
            out.extend_from_slice(&[content::APPLICATION_DATA, 3, 3]);
            out.extend_from_slice(&(body as u16).to_be_bytes());
            let header: [u8; HEADER_LEN] = out[start..].try_into().expect("5 bytes");
            out.extend_from_slice(chunk);
            out.push(typ);
            let nonce = Nonce::assume_unique_for_key(self.tx.next_nonce());
            let tag = self
                .tx
                .key
                .seal_in_place_separate_tag(
                    nonce,
                    Aad::from(header),
                    &mut out[start + HEADER_LEN..],
                )
                .expect("sealing cannot fail for a record-sized input");
            out.extend_from_slice(tag.as_ref());
            return;
        }
        let aad = aad12(self.tx.seq, typ, chunk.len());
        let nonce = self.tx.next_nonce();
        let explicit = if self.explicit_nonce { 8 } else { 0 };
        let body = explicit + chunk.len() + TAG_LEN;
        out.extend_from_slice(&[typ, 3, 3]);
        out.extend_from_slice(&(body as u16).to_be_bytes());
        out.extend_from_slice(&nonce[4..4 + explicit]);
        let at = out.len();
        out.extend_from_slice(chunk);
        let tag = self
            .tx
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[at..],
            )
            .expect("sealing cannot fail for a record-sized input");
        out.extend_from_slice(tag.as_ref());
    }

    /// The length of the first record in `buf`, once all of it is there.
    pub(crate) fn complete_record(buf: &[u8]) -> Option<usize> {
        let len = usize::from(u16::from_be_bytes([*buf.get(3)?, *buf.get(4)?]));
        let total = HEADER_LEN + len;
        (buf.len() >= total).then_some(total)
    }

    /// Opens the record `rec` (header included) in place.
    pub(crate) fn open(&mut self, rec: &mut [u8]) -> Result<Opened, RecordError> {
        let (header, body) = rec.split_at_mut(HEADER_LEN);
        let outer = header[0];
        // TLS 1.3 sends a ChangeCipherSpec in clear for middleboxes; it may
        // still arrive after the handshake was read.
        if outer == 20 {
            return Ok(Opened::Nothing);
        }
        if self.tls13 {
            if outer != content::APPLICATION_DATA {
                return Err(RecordError::Malformed(
                    "unprotected record after the handshake",
                ));
            }
            let nonce = Nonce::assume_unique_for_key(self.rx.next_nonce());
            let aad: [u8; HEADER_LEN] = (&*header).try_into().expect("5 bytes");
            let plain = self
                .rx
                .key
                .open_in_place(nonce, Aad::from(aad), body)
                .map_err(|_| RecordError::BadRecordMac)?;
            let Some(end) = plain.iter().rposition(|&b| b != 0) else {
                return Err(RecordError::Malformed(
                    "inner plaintext without a content type",
                ));
            };
            let typ = plain[end];
            return self.inner(typ, &plain[..end], HEADER_LEN);
        }
        let explicit = if self.explicit_nonce { 8 } else { 0 };
        if body.len() < explicit + TAG_LEN {
            return Err(RecordError::Malformed(
                "record shorter than its nonce and tag",
            ));
        }
        let aad = aad12(self.rx.seq, outer, body.len() - explicit - TAG_LEN);
        let nonce = if self.explicit_nonce {
            let mut n = self.rx.iv;
            n[4..].copy_from_slice(&body[..8]);
            self.rx.seq += 1;
            n
        } else {
            self.rx.next_nonce()
        };
        let plain = self
            .rx
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body[explicit..],
            )
            .map_err(|_| RecordError::BadRecordMac)?;
        let len = plain.len();
        self.inner(
            outer,
            &body[explicit..explicit + len],
            HEADER_LEN + explicit,
        )
    }

    /// Interprets a decrypted record of `typ` whose plaintext is `plain`,
    /// found at `offset` of the record.
    fn inner(&self, typ: u8, plain: &[u8], offset: usize) -> Result<Opened, RecordError> {
        match typ {
            content::APPLICATION_DATA => Ok(Opened::Data(offset..offset + plain.len())),
            content::ALERT => match plain {
                [1, 0] => Ok(Opened::CloseNotify),
                [1, _] => Ok(Opened::Nothing),
                [_, d] => Err(RecordError::Alert(*d)),
                _ => Err(RecordError::Malformed("alert of the wrong length")),
            },
            // NewSessionTicket (4) is skipped: tickets are not kept. A
            // KeyUpdate (24) would need the traffic secrets, not the keys.
            content::HANDSHAKE => match plain.first() {
                Some(4) => Ok(Opened::Nothing),
                Some(t) => Err(RecordError::Unsupported(*t)),
                None => Err(RecordError::Malformed("empty handshake record")),
            },
            _ => Err(RecordError::Malformed("unknown content type")),
        }
    }
}
