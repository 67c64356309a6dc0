//! Writing packets that are wrong on purpose: any first byte, any declared
//! remaining length (including 5-byte and non-minimal encodings), any body.
//! The fuzzer starts from a valid packet ([`RawPacket::from_packet`]) and
//! breaks one thing.

use bytes::{BufMut, BytesMut};

use super::packet::{Packet, Protocol};

/// How the remaining-length field is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LengthField {
    /// The body's true length, minimally encoded.
    Correct,
    /// This value instead, minimally encoded (a lie about the body).
    Value(u32),
    /// These exact bytes (over-long, 5-byte or unterminated encodings).
    Bytes(Vec<u8>),
}

/// A packet as bytes on the wire, every part under the caller's control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawPacket {
    /// Packet type (high nibble) and flags (low nibble).
    pub first_byte: u8,
    /// The remaining-length field.
    pub length: LengthField,
    /// Everything after the fixed header.
    pub body: Vec<u8>,
}

impl RawPacket {
    /// The valid encoding of `packet`, split into its parts.
    pub fn from_packet(packet: &Packet, protocol: Protocol) -> RawPacket {
        let mut buf = BytesMut::new();
        super::encode(packet, protocol, &mut buf);
        let mut hdr = 1;
        while buf[hdr] & 0x80 != 0 {
            hdr += 1;
        }
        RawPacket {
            first_byte: buf[0],
            length: LengthField::Correct,
            body: buf[hdr + 1..].to_vec(),
        }
    }

    /// Sets reserved or flag bits of the fixed header.
    pub fn with_flags(mut self, flags: u8) -> RawPacket {
        self.first_byte = (self.first_byte & 0xf0) | (flags & 0x0f);
        self
    }

    /// Declares a remaining length that differs from the body by `delta`.
    pub fn with_length_delta(mut self, delta: i64) -> RawPacket {
        let v = (self.body.len() as i64 + delta).clamp(0, i64::from(u32::MAX)) as u32;
        self.length = LengthField::Value(v);
        self
    }

    /// The bytes to send.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BytesMut::with_capacity(self.body.len() + 6);
        out.put_u8(self.first_byte);
        match &self.length {
            LengthField::Correct => super::encode::put_varint(&mut out, self.body.len() as u32),
            // put_varint has no 4-byte limit: values above 268,435,455 take
            // five bytes, which a strict decoder must reject.
            LengthField::Value(v) => super::encode::put_varint(&mut out, *v),
            LengthField::Bytes(b) => out.put_slice(b),
        }
        out.put_slice(&self.body);
        out.to_vec()
    }
}
