//! MQTT 5.0 properties: a length-prefixed list of (identifier, value).

use bytes::{BufMut, Bytes, BytesMut};

use super::decode::Reader;
use super::MqttError;

/// A property value, typed by the property identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropValue {
    /// Byte (e.g. Payload Format Indicator).
    Byte(u8),
    /// Two Byte Integer (e.g. Receive Maximum).
    U16(u16),
    /// Four Byte Integer (e.g. Session Expiry Interval).
    U32(u32),
    /// Variable Byte Integer (Subscription Identifier).
    VarInt(u32),
    /// UTF-8 Encoded String (e.g. Content Type).
    Str(String),
    /// Binary Data (e.g. Correlation Data).
    Bin(Bytes),
    /// UTF-8 String Pair (User Property).
    Pair(String, String),
}

/// One property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// Identifier, e.g. 0x11 session expiry interval.
    pub id: u8,
    /// Its value.
    pub value: PropValue,
}

/// The properties of a packet, in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties(pub Vec<Property>);

#[derive(Clone, Copy)]
enum Kind {
    Byte,
    U16,
    U32,
    VarInt,
    Str,
    Bin,
    Pair,
}

/// The value type of each identifier defined by MQTT 5.0 (section 2.2.2.2).
fn kind(id: u8) -> Option<Kind> {
    Some(match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Kind::Byte,
        0x13 | 0x21 | 0x22 | 0x23 => Kind::U16,
        0x02 | 0x11 | 0x18 | 0x27 => Kind::U32,
        0x0B => Kind::VarInt,
        0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => Kind::Str,
        0x09 | 0x16 => Kind::Bin,
        0x26 => Kind::Pair,
        _ => return None,
    })
}

/// Property identifiers.
pub mod id {
    /// Payload Format Indicator (byte).
    pub const PAYLOAD_FORMAT: u8 = 0x01;
    /// Message Expiry Interval (u32, seconds).
    pub const MESSAGE_EXPIRY: u8 = 0x02;
    /// Content Type (string).
    pub const CONTENT_TYPE: u8 = 0x03;
    /// Response Topic (string).
    pub const RESPONSE_TOPIC: u8 = 0x08;
    /// Correlation Data (binary).
    pub const CORRELATION_DATA: u8 = 0x09;
    /// Subscription Identifier (varint).
    pub const SUBSCRIPTION_ID: u8 = 0x0B;
    /// Will Delay Interval (u32, seconds).
    pub const WILL_DELAY: u8 = 0x18;
    /// Receive Maximum (u16).
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    /// Topic Alias Maximum (u16).
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    /// Topic Alias (u16).
    pub const TOPIC_ALIAS: u8 = 0x23;
    /// Wildcard Subscription Available (byte).
    pub const WILDCARD_SUB_AVAILABLE: u8 = 0x28;
    /// Subscription Identifiers Available (byte).
    pub const SUB_ID_AVAILABLE: u8 = 0x29;
    /// Session Expiry Interval (u32).
    pub const SESSION_EXPIRY: u8 = 0x11;
    /// Assigned Client Identifier (string).
    pub const ASSIGNED_CLIENT_ID: u8 = 0x12;
    /// Server Keep Alive (u16).
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    /// Reason String (string).
    pub const REASON_STRING: u8 = 0x1F;
    /// Maximum QoS (byte).
    pub const MAX_QOS: u8 = 0x24;
    /// Retain Available (byte).
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    /// User Property (pair).
    pub const USER_PROPERTY: u8 = 0x26;
    /// Maximum Packet Size (u32).
    pub const MAX_PACKET_SIZE: u8 = 0x27;
    /// Shared Subscription Available (byte).
    pub const SHARED_SUB_AVAILABLE: u8 = 0x2A;
}

impl Properties {
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a property.
    pub fn push(&mut self, id: u8, value: PropValue) {
        self.0.push(Property { id, value });
    }

    /// The first identifier that appears twice where the spec allows it
    /// once (every property but User Property and, in PUBLISH,
    /// Subscription Identifier): a Protocol Error.
    pub fn repeated(&self) -> Option<u8> {
        let mut seen = [false; 256];
        for p in &self.0 {
            if p.id == id::USER_PROPERTY || p.id == id::SUBSCRIPTION_ID {
                continue;
            }
            if std::mem::replace(&mut seen[usize::from(p.id)], true) {
                return Some(p.id);
            }
        }
        None
    }

    /// A u32 property's value.
    pub fn u32(&self, id: u8) -> Option<u32> {
        match self.get(id) {
            Some(PropValue::U32(v)) => Some(*v),
            _ => None,
        }
    }

    /// A u16 property's value.
    pub fn u16(&self, id: u8) -> Option<u16> {
        match self.get(id) {
            Some(PropValue::U16(v)) => Some(*v),
            _ => None,
        }
    }

    /// The first value with this identifier.
    pub fn get(&self, id: u8) -> Option<&PropValue> {
        self.0.iter().find(|p| p.id == id).map(|p| &p.value)
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Properties, MqttError> {
        let len = r.varint("property length")? as usize;
        let mut body = r.sub(len, "properties")?;
        let mut out = Vec::new();
        while !body.is_empty() {
            let id = body.u8("property id")?;
            let value = match kind(id).ok_or(MqttError::UnknownProperty(id))? {
                Kind::Byte => PropValue::Byte(body.u8("property")?),
                Kind::U16 => PropValue::U16(body.u16("property")?),
                Kind::U32 => PropValue::U32(body.u32("property")?),
                Kind::VarInt => PropValue::VarInt(body.varint("property")?),
                Kind::Str => PropValue::Str(body.string("property")?),
                Kind::Bin => PropValue::Bin(body.binary("property")?),
                Kind::Pair => {
                    PropValue::Pair(body.string("user property")?, body.string("user property")?)
                }
            };
            out.push(Property { id, value });
        }
        Ok(Properties(out))
    }

    /// Encoded size of the property list, without its length prefix.
    fn body_len(&self) -> usize {
        self.0
            .iter()
            .map(|p| {
                1 + match &p.value {
                    PropValue::Byte(_) => 1,
                    PropValue::U16(_) => 2,
                    PropValue::U32(_) => 4,
                    PropValue::VarInt(v) => super::encode::varint_len(*v),
                    PropValue::Str(s) => 2 + s.len(),
                    PropValue::Bin(b) => 2 + b.len(),
                    PropValue::Pair(k, v) => 4 + k.len() + v.len(),
                }
            })
            .sum()
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        super::encode::put_varint(out, self.body_len() as u32);
        for p in &self.0 {
            out.put_u8(p.id);
            match &p.value {
                PropValue::Byte(b) => out.put_u8(*b),
                PropValue::U16(v) => out.put_u16(*v),
                PropValue::U32(v) => out.put_u32(*v),
                PropValue::VarInt(v) => super::encode::put_varint(out, *v),
                PropValue::Str(s) => super::encode::put_str(out, s),
                PropValue::Bin(b) => super::encode::put_bin(out, b),
                PropValue::Pair(k, v) => {
                    super::encode::put_str(out, k);
                    super::encode::put_str(out, v);
                }
            }
        }
    }
}
