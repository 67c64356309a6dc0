//! MQTT 3.1.1 and 5.0: packet types, a strict decoder, an encoder, and a raw
//! encoder that writes malformed packets on purpose (for the fuzzer).
//!
//! Our own codec is deliberate: library encoders refuse to build the broken
//! packets a fuzzer needs, and the decoder must turn every malformed input
//! into a typed error without panicking or allocating without bound.

pub mod codes;
mod decode;
mod encode;
mod packet;
mod properties;
pub mod raw;
pub mod topic;

pub use decode::{decode, decode_connect_level, Decoded, DEFAULT_MAX_REMAINING};
pub use encode::encode;
pub use packet::*;
pub use properties::{id as prop_id, PropValue, Properties, Property};

/// Why bytes are not a valid MQTT packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MqttError {
    /// The remaining-length field is longer than four bytes.
    #[error("remaining length uses more than 4 bytes")]
    BadRemainingLength,
    /// The packet is larger than the configured cap.
    #[error("packet of {len} bytes exceeds the {max}-byte limit")]
    PacketTooLarge {
        /// Declared remaining length.
        len: u32,
        /// The cap.
        max: u32,
    },
    /// Packet type 0 or 15 (reserved, or AUTH, which this codec does not support).
    #[error("packet type {0} is reserved or unsupported")]
    BadPacketType(u8),
    /// Fixed-header flags that the spec fixes to another value.
    #[error("packet type {ptype} with flags {flags:#06b}")]
    BadFlags {
        /// Packet type.
        ptype: u8,
        /// The flags found.
        flags: u8,
    },
    /// The body ended before a field was complete.
    #[error("packet body truncated reading {0}")]
    Truncated(&'static str),
    /// Bytes left over after the last field.
    #[error("{0} trailing bytes after the packet body")]
    TrailingBytes(usize),
    /// A string is not UTF-8 or contains U+0000.
    #[error("invalid UTF-8 string in {0}")]
    BadString(&'static str),
    /// QoS 3.
    #[error("QoS 3 is invalid")]
    BadQos,
    /// A property id not defined for MQTT 5.
    #[error("unknown property id {0:#04x}")]
    UnknownProperty(u8),
    /// A field has a value the spec forbids.
    #[error("invalid {0}")]
    Invalid(&'static str),
}
