//! The encoder for valid packets.

use bytes::{BufMut, BytesMut};

use super::packet::*;
use super::properties::Properties;

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
    let b = &mut body;
    let flags = match packet {
        Packet::Connect(c) => {
            connect(b, c, v5);
            0
        }
        Packet::ConnAck(a) => {
            b.put_u8(u8::from(a.session_present));
            b.put_u8(a.code);
            properties_if(b, &a.properties, v5);
            0
        }
        Packet::Publish(p) => {
            put_str(b, &p.topic);
            if let Some(id) = p.packet_id {
                b.put_u16(id);
            }
            properties_if(b, &p.properties, v5);
            b.put_slice(&p.payload);
            (u8::from(p.dup) << 3) | ((p.qos as u8) << 1) | u8::from(p.retain)
        }
        Packet::PubAck(a) => {
            b.put_u16(a.packet_id);
            reason_and_properties(b, a.reason, &a.properties, v5);
            0
        }
        Packet::Subscribe(s) => {
            b.put_u16(s.packet_id);
            properties_if(b, &s.properties, v5);
            for f in &s.filters {
                put_str(b, &f.filter);
                b.put_u8(f.options);
            }
            0b0010
        }
        Packet::SubAck(s) => {
            b.put_u16(s.packet_id);
            properties_if(b, &s.properties, v5);
            b.put_slice(&s.codes);
            0
        }
        Packet::Unsubscribe(u) => {
            b.put_u16(u.packet_id);
            properties_if(b, &u.properties, v5);
            for f in &u.filters {
                put_str(b, f);
            }
            0b0010
        }
        Packet::UnsubAck(u) => {
            b.put_u16(u.packet_id);
            if v5 {
                u.properties.encode(b);
                b.put_slice(&u.codes);
            }
            0
        }
        Packet::PingReq | Packet::PingResp => 0,
        Packet::Disconnect(d) => {
            reason_and_properties(b, d.reason, &d.properties, v5);
            0
        }
    };
    out.reserve(5 + body.len());
    out.put_u8((packet.type_id() << 4) | flags);
    put_varint(out, body.len() as u32);
    out.put_slice(&body);
}

/// The CONNECT variable header and payload: name, level, flags, keep
/// alive, properties, client id, will, user name, password.
fn connect(body: &mut BytesMut, c: &Connect, v5: bool) {
    put_str(body, &c.protocol_name);
    body.put_u8(c.level);
    body.put_u8(connect_flags(c));
    body.put_u16(c.keep_alive);
    properties_if(body, &c.properties, v5);
    put_str(body, &c.client_id);
    if let Some(w) = &c.will {
        properties_if(body, &w.properties, v5);
        put_str(body, &w.topic);
        put_bin(body, &w.payload);
    }
    if let Some(u) = &c.username {
        put_str(body, u);
    }
    if let Some(p) = &c.password {
        put_bin(body, p);
    }
}

/// CONNECT flags (MQTT 3.1.1 3.1.2.3, 5.0 3.1.2.3).
fn connect_flags(c: &Connect) -> u8 {
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
    f
}

/// 5.0 properties where the packet has them; none in 3.1.1.
fn properties_if(body: &mut BytesMut, p: &Properties, v5: bool) {
    if v5 {
        p.encode(body);
    }
}

/// 5.0 PUBACK / DISCONNECT: reason and properties, each left out when it
/// says nothing (reason 0, no properties), as the spec allows.
fn reason_and_properties(body: &mut BytesMut, reason: u8, p: &Properties, v5: bool) {
    if v5 && (reason != 0 || !p.is_empty()) {
        body.put_u8(reason);
        if !p.is_empty() {
            p.encode(body);
        }
    }
}
