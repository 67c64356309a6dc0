//! MQTT packet types, shared by 3.1.1 and 5.0 (5.0-only fields are empty
//! under 3.1.1).

use bytes::Bytes;

use super::properties::Properties;

/// Protocol version of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl Protocol {
    /// The CONNECT protocol level byte.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }

    /// The protocol for a CONNECT level byte, if supported.
    pub fn from_level(level: u8) -> Option<Protocol> {
        match level {
            4 => Some(Protocol::V311),
            5 => Some(Protocol::V5),
            _ => None,
        }
    }
}

/// Quality of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    /// At most once.
    AtMostOnce = 0,
    /// At least once.
    AtLeastOnce = 1,
    /// Exactly once (AWS IoT refuses it).
    ExactlyOnce = 2,
}

impl QoS {
    /// From the two QoS bits; `None` for 3.
    pub fn from_bits(b: u8) -> Option<QoS> {
        match b {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// The will message of a CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    /// 5.0 will properties.
    pub properties: Properties,
    /// Will topic.
    pub topic: String,
    /// Will payload.
    pub payload: Bytes,
    /// Will QoS bits (kept raw: 3 is a protocol violation the server judges).
    pub qos: u8,
    /// Will retain flag.
    pub retain: bool,
}

/// CONNECT. Flags are kept raw so the server can answer a violation with the
/// right code instead of the decoder refusing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// Protocol name, "MQTT" for 3.1.1 and 5.0.
    pub protocol_name: String,
    /// Protocol level: 4 for 3.1.1, 5 for 5.0.
    pub level: u8,
    /// Clean session (3.1.1) / clean start (5.0).
    pub clean_start: bool,
    /// The reserved flag bit (must be 0).
    pub reserved_flag: bool,
    /// Keep alive in seconds.
    pub keep_alive: u16,
    /// 5.0 CONNECT properties.
    pub properties: Properties,
    /// Client identifier (may be empty).
    pub client_id: String,
    /// Will, if the will flag is set.
    pub will: Option<Will>,
    /// User name, if present.
    pub username: Option<String>,
    /// Password, if present.
    pub password: Option<Bytes>,
}

impl Connect {
    /// A minimal valid CONNECT.
    pub fn new(protocol: Protocol, client_id: &str, keep_alive: u16) -> Connect {
        Connect {
            protocol_name: "MQTT".into(),
            level: protocol.level(),
            clean_start: true,
            reserved_flag: false,
            keep_alive,
            properties: Properties::default(),
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }
}

/// CONNACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// Session present flag.
    pub session_present: bool,
    /// Return code (3.1.1) or reason code (5.0).
    pub code: u8,
    /// 5.0 properties.
    pub properties: Properties,
}

/// PUBLISH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// Duplicate delivery flag.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Topic name.
    pub topic: String,
    /// Packet identifier, present for QoS > 0.
    pub packet_id: Option<u16>,
    /// 5.0 properties.
    pub properties: Properties,
    /// Payload.
    pub payload: Bytes,
}

/// PUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubAck {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 reason code (0 under 3.1.1).
    pub reason: u8,
    /// 5.0 properties.
    pub properties: Properties,
}

/// One SUBSCRIBE entry: topic filter and the options byte (QoS in bits 0-1;
/// 5.0 adds no-local, retain-as-published, retain handling).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Topic filter.
    pub filter: String,
    /// Options byte.
    pub options: u8,
}

/// SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// At least one filter.
    pub filters: Vec<Subscription>,
}

/// SUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// One code per filter: granted QoS or a failure code.
    pub codes: Vec<u8>,
}

/// UNSUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// At least one filter.
    pub filters: Vec<String>,
}

/// UNSUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties,
    /// 5.0 reason codes, one per filter (empty under 3.1.1).
    pub codes: Vec<u8>,
}

/// DISCONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// 5.0 reason code (0 = normal).
    pub reason: u8,
    /// 5.0 properties.
    pub properties: Properties,
}

/// Any packet this codec handles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (type 1).
    Connect(Connect),
    /// CONNACK (type 2).
    ConnAck(ConnAck),
    /// PUBLISH (type 3).
    Publish(Publish),
    /// PUBACK (type 4).
    PubAck(PubAck),
    /// SUBSCRIBE (type 8).
    Subscribe(Subscribe),
    /// SUBACK (type 9).
    SubAck(SubAck),
    /// UNSUBSCRIBE (type 10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (type 11).
    UnsubAck(UnsubAck),
    /// PINGREQ (type 12).
    PingReq,
    /// PINGRESP (type 13).
    PingResp,
    /// DISCONNECT (type 14).
    Disconnect(Disconnect),
}

impl Packet {
    /// The packet type number of the fixed header.
    pub fn type_id(&self) -> u8 {
        match self {
            Packet::Connect(_) => 1,
            Packet::ConnAck(_) => 2,
            Packet::Publish(_) => 3,
            Packet::PubAck(_) => 4,
            Packet::Subscribe(_) => 8,
            Packet::SubAck(_) => 9,
            Packet::Unsubscribe(_) => 10,
            Packet::UnsubAck(_) => 11,
            Packet::PingReq => 12,
            Packet::PingResp => 13,
            Packet::Disconnect(_) => 14,
        }
    }

    /// Short name for logs and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
        }
    }
}
