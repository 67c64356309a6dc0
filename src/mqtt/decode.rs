//! The strict decoder. Every malformed input is a typed [`MqttError`]; the
//! remaining length is checked against a cap before anything is buffered,
//! and no field can make it allocate more than the packet's own size.

use bytes::Bytes;

use super::packet::*;
use super::properties::Properties;
use super::MqttError;

/// Default cap on a packet's remaining length: AWS IoT's 128 KiB message limit.
pub const DEFAULT_MAX_REMAINING: u32 = 128 * 1024;

/// A cursor over a packet body.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], MqttError> {
        if self.buf.len() < n {
            return Err(MqttError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, MqttError> {
        Ok(Reader::new(self.take(n, what)?))
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, MqttError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, MqttError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, MqttError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u32, MqttError> {
        let mut value = 0u32;
        for i in 0..4 {
            let b = self.u8(what)?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(MqttError::BadRemainingLength)
    }

    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes, MqttError> {
        let n = self.u16(what)? as usize;
        Ok(Bytes::copy_from_slice(self.take(n, what)?))
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, MqttError> {
        let n = self.u16(what)? as usize;
        let b = self.take(n, what)?;
        let s = std::str::from_utf8(b).map_err(|_| MqttError::BadString(what))?;
        // MQTT strings must not contain U+0000 (3.1.1 1.5.3, 5.0 1.5.4).
        if s.contains('\0') {
            return Err(MqttError::BadString(what));
        }
        Ok(s.to_string())
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn done(&self) -> Result<(), MqttError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(MqttError::TrailingBytes(self.buf.len()))
        }
    }
}

/// A decoded packet and how many bytes it used.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The packet.
    pub packet: Packet,
    /// Bytes consumed from the input.
    pub len: usize,
}

/// Reads the fixed header. `Ok(None)`: more bytes are needed.
fn fixed_header(buf: &[u8], max: u32) -> Result<Option<(u8, u32, usize)>, MqttError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len = 0u32;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        len |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if len > max {
                return Err(MqttError::PacketTooLarge { len, max });
            }
            return Ok(Some((first, len, 2 + i)));
        }
    }
    Err(MqttError::BadRemainingLength)
}

/// Reads the protocol level of a CONNECT at the start of `buf`, without
/// decoding the rest: the server needs it to answer a malformed CONNECT in
/// the client's own protocol version.
pub fn decode_connect_level(buf: &[u8]) -> Option<u8> {
    let (first, _, hdr) = fixed_header(buf, u32::MAX).ok()??;
    if first >> 4 != 1 {
        return None;
    }
    let mut r = Reader::new(&buf[hdr..]);
    let _name = r.binary("protocol name").ok()?;
    r.u8("protocol level").ok()
}

/// Decodes one packet from the front of `buf`. `protocol` is the session's
/// version (CONNECT carries its own). `Ok(None)`: need more bytes.
pub fn decode(
    buf: &[u8],
    protocol: Protocol,
    max_remaining: u32,
) -> Result<Option<Decoded>, MqttError> {
    let Some((first, len, hdr)) = fixed_header(buf, max_remaining)? else {
        return Ok(None);
    };
    let total = hdr + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let ptype = first >> 4;
    let flags = first & 0x0f;
    // Every type but PUBLISH has fixed flags (MQTT 3.1.1 2.2.2, 5.0 2.1.3).
    if let Some(want) = fixed_flags(ptype)? {
        if flags != want {
            return Err(MqttError::BadFlags { ptype, flags });
        }
    }
    let mut r = Reader::new(&buf[hdr..total]);
    let v5 = protocol == Protocol::V5;
    let packet = match ptype {
        1 => Packet::Connect(connect(&mut r)?),
        2 => Packet::ConnAck(connack(&mut r, v5)?),
        3 => Packet::Publish(publish(&mut r, flags, v5)?),
        4 => {
            let packet_id = r.u16("packet id")?;
            let (reason, properties) = reason_and_properties(&mut r, v5)?;
            Packet::PubAck(PubAck {
                packet_id,
                reason,
                properties,
            })
        }
        8 => Packet::Subscribe(subscribe(&mut r, v5)?),
        9 => Packet::SubAck(SubAck {
            packet_id: r.u16("packet id")?,
            properties: properties_if(&mut r, v5)?,
            codes: r.rest().to_vec(),
        }),
        10 => Packet::Unsubscribe(unsubscribe(&mut r, v5)?),
        11 => {
            let packet_id = r.u16("packet id")?;
            let (properties, codes) = if v5 {
                (Properties::decode(&mut r)?, r.rest().to_vec())
            } else {
                (Properties::default(), Vec::new())
            };
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties,
                codes,
            })
        }
        12 => Packet::PingReq,
        13 => Packet::PingResp,
        // 14, DISCONNECT: `fixed_flags` refused every other type.
        _ => {
            let (reason, properties) = reason_and_properties(&mut r, v5)?;
            Packet::Disconnect(Disconnect { reason, properties })
        }
    };
    r.done()?;
    Ok(Some(Decoded { packet, len: total }))
}

/// The flags a packet type must carry (`None`: PUBLISH, whose flags are
/// its DUP, QoS and RETAIN); an unknown type is an error.
fn fixed_flags(ptype: u8) -> Result<Option<u8>, MqttError> {
    Ok(match ptype {
        3 => None,
        8 | 10 => Some(0b0010),
        1 | 2 | 4 | 9 | 11 | 12 | 13 | 14 => Some(0),
        other => return Err(MqttError::BadPacketType(other)),
    })
}

/// 5.0 properties where the packet has them; none in 3.1.1.
fn properties_if(r: &mut Reader<'_>, v5: bool) -> Result<Properties, MqttError> {
    if v5 {
        Properties::decode(r)
    } else {
        Ok(Properties::default())
    }
}

fn connack(r: &mut Reader<'_>, v5: bool) -> Result<ConnAck, MqttError> {
    let ack = r.u8("connack flags")?;
    if ack & 0xfe != 0 {
        return Err(MqttError::Invalid("CONNACK acknowledge flags"));
    }
    let code = r.u8("connack code")?;
    Ok(ConnAck {
        session_present: ack & 1 == 1,
        code,
        properties: properties_if(r, v5)?,
    })
}

/// SUBSCRIBE: at least one filter, options without reserved bits or QoS 3.
fn subscribe(r: &mut Reader<'_>, v5: bool) -> Result<Subscribe, MqttError> {
    let packet_id = r.u16("packet id")?;
    let properties = properties_if(r, v5)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.string("topic filter")?;
        let options = r.u8("subscription options")?;
        let reserved = if v5 { 0xc0 } else { 0xfc };
        if options & reserved != 0 || options & 0x03 == 3 {
            return Err(MqttError::Invalid("subscription options"));
        }
        filters.push(Subscription { filter, options });
    }
    if filters.is_empty() {
        return Err(MqttError::Invalid("SUBSCRIBE without topic filters"));
    }
    Ok(Subscribe {
        packet_id,
        properties,
        filters,
    })
}

/// UNSUBSCRIBE: at least one filter.
fn unsubscribe(r: &mut Reader<'_>, v5: bool) -> Result<Unsubscribe, MqttError> {
    let packet_id = r.u16("packet id")?;
    let properties = properties_if(r, v5)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        filters.push(r.string("topic filter")?);
    }
    if filters.is_empty() {
        return Err(MqttError::Invalid("UNSUBSCRIBE without topic filters"));
    }
    Ok(Unsubscribe {
        packet_id,
        properties,
        filters,
    })
}

/// 5.0 PUBACK / DISCONNECT: the reason code and properties may be omitted.
fn reason_and_properties(r: &mut Reader<'_>, v5: bool) -> Result<(u8, Properties), MqttError> {
    if !v5 || r.is_empty() {
        return Ok((0, Properties::default()));
    }
    let reason = r.u8("reason code")?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        Properties::decode(r)?
    };
    Ok((reason, properties))
}

fn connect(r: &mut Reader<'_>) -> Result<Connect, MqttError> {
    let protocol_name = r.string("protocol name")?;
    let level = r.u8("protocol level")?;
    let flags = r.u8("connect flags")?;
    let keep_alive = r.u16("keep alive")?;
    let v5 = level == 5;
    let properties = if v5 {
        Properties::decode(r)?
    } else {
        Properties::default()
    };
    let client_id = r.string("client id")?;
    let will_flag = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0x03;
    let will_retain = flags & 0x20 != 0;
    if !will_flag && (will_qos != 0 || will_retain) {
        return Err(MqttError::Invalid("will QoS/retain without will flag"));
    }
    let will = if will_flag {
        let properties = if v5 {
            Properties::decode(r)?
        } else {
            Properties::default()
        };
        Some(Will {
            properties,
            topic: r.string("will topic")?,
            payload: r.binary("will payload")?,
            qos: will_qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let has_user = flags & 0x80 != 0;
    let has_pass = flags & 0x40 != 0;
    if !v5 && has_pass && !has_user {
        // 3.1.1 3.1.2.9: no password without a user name.
        return Err(MqttError::Invalid("password without user name"));
    }
    let username = if has_user {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if has_pass {
        Some(r.binary("password")?)
    } else {
        None
    };
    Ok(Connect {
        protocol_name,
        level,
        clean_start: flags & 0x02 != 0,
        reserved_flag: flags & 0x01 != 0,
        keep_alive,
        properties,
        client_id,
        will,
        username,
        password,
    })
}

fn publish(r: &mut Reader<'_>, flags: u8, v5: bool) -> Result<Publish, MqttError> {
    let qos = QoS::from_bits((flags >> 1) & 0x03).ok_or(MqttError::BadQos)?;
    let dup = flags & 0x08 != 0;
    if qos == QoS::AtMostOnce && dup {
        return Err(MqttError::Invalid("DUP set on a QoS 0 PUBLISH"));
    }
    let topic = r.string("topic name")?;
    if topic.contains(['+', '#']) {
        return Err(MqttError::Invalid("wildcard in a topic name"));
    }
    let packet_id = if qos == QoS::AtMostOnce {
        None
    } else {
        let id = r.u16("packet id")?;
        if id == 0 {
            return Err(MqttError::Invalid("packet id 0"));
        }
        Some(id)
    };
    let properties = if v5 {
        Properties::decode(r)?
    } else {
        Properties::default()
    };
    Ok(Publish {
        dup,
        qos,
        retain: flags & 0x01 != 0,
        topic,
        packet_id,
        properties,
        payload: Bytes::copy_from_slice(r.rest()),
    })
}
