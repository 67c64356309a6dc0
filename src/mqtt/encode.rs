//! The encoder for valid packets.

use bytes::{BufMut, BytesMut};

use super::packet::*;

pub(crate) fn varint_len(v: u32) -> usize {
    match v {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub(crate) fn put_varint(out: &mut BytesMut, mut v: u32) {
    loop {
        let mut b = (v & 0x7f) as u8;
        v >>= 7;
        if v > 0 {
            b |= 0x80;
        }
        out.put_u8(b);
        if v == 0 {
            break;
        }
    }
}

pub(crate) fn put_str(out: &mut BytesMut, s: &str) {
    put_bin(out, s.as_bytes());
}

pub(crate) fn put_bin(out: &mut BytesMut, b: &[u8]) {
    out.put_u16(b.len() as u16);
    out.put_slice(b);
}

/// Encodes `packet` for a session speaking `protocol` (CONNECT uses its own
/// level), appending to `out`.
pub fn encode(packet: &Packet, protocol: Protocol, out: &mut BytesMut) {
    let mut body = BytesMut::new();
    let v5 = match packet {
        Packet::Connect(c) => c.level == 5,
        _ => protocol == Protocol::V5,
    };
    let flags = match packet {
        Packet::Connect(c) => {
            put_str(&mut body, &c.protocol_name);
            body.put_u8(c.level);
            let mut f = 0u8;
            if c.reserved_flag {
                f |= 0x01;
            }
            if c.clean_start {
                f |= 0x02;
            }
            if let Some(w) = &c.will {
                f |= 0x04 | ((w.qos & 0x03) << 3);
                if w.retain {
                    f |= 0x20;
                }
            }
            if c.password.is_some() {
                f |= 0x40;
            }
            if c.username.is_some() {
                f |= 0x80;
            }
            body.put_u8(f);
            body.put_u16(c.keep_alive);
            if v5 {
                c.properties.encode(&mut body);
            }
            put_str(&mut body, &c.client_id);
            if let Some(w) = &c.will {
                if v5 {
                    w.properties.encode(&mut body);
                }
                put_str(&mut body, &w.topic);
                put_bin(&mut body, &w.payload);
            }
            if let Some(u) = &c.username {
                put_str(&mut body, u);
            }
            if let Some(p) = &c.password {
                put_bin(&mut body, p);
            }
            0
        }
        Packet::ConnAck(a) => {
            body.put_u8(u8::from(a.session_present));
            body.put_u8(a.code);
            if v5 {
                a.properties.encode(&mut body);
            }
            0
        }
        Packet::Publish(p) => {
            put_str(&mut body, &p.topic);
            if let Some(id) = p.packet_id {
                body.put_u16(id);
            }
            if v5 {
                p.properties.encode(&mut body);
            }
            body.put_slice(&p.payload);
            (u8::from(p.dup) << 3) | ((p.qos as u8) << 1) | u8::from(p.retain)
        }
        Packet::PubAck(a) => {
            body.put_u16(a.packet_id);
            if v5 && (a.reason != 0 || !a.properties.is_empty()) {
                body.put_u8(a.reason);
                if !a.properties.is_empty() {
                    a.properties.encode(&mut body);
                }
            }
            0
        }
        Packet::Subscribe(s) => {
            body.put_u16(s.packet_id);
            if v5 {
                s.properties.encode(&mut body);
            }
            for f in &s.filters {
                put_str(&mut body, &f.filter);
                body.put_u8(f.options);
            }
            0b0010
        }
        Packet::SubAck(s) => {
            body.put_u16(s.packet_id);
            if v5 {
                s.properties.encode(&mut body);
            }
            body.put_slice(&s.codes);
            0
        }
        Packet::Unsubscribe(u) => {
            body.put_u16(u.packet_id);
            if v5 {
                u.properties.encode(&mut body);
            }
            for f in &u.filters {
                put_str(&mut body, f);
            }
            0b0010
        }
        Packet::UnsubAck(u) => {
            body.put_u16(u.packet_id);
            if v5 {
                u.properties.encode(&mut body);
                body.put_slice(&u.codes);
            }
            0
        }
        Packet::PingReq | Packet::PingResp => 0,
        Packet::Disconnect(d) => {
            if v5 && (d.reason != 0 || !d.properties.is_empty()) {
                body.put_u8(d.reason);
                if !d.properties.is_empty() {
                    d.properties.encode(&mut body);
                }
            }
            0
        }
    };
    out.reserve(5 + body.len());
    out.put_u8((packet.type_id() << 4) | flags);
    put_varint(out, body.len() as u32);
    out.put_slice(&body);
}
