//! CONNACK return codes (MQTT 3.1.1 section 3.2.2.3) and reason codes (MQTT 5.0
//! section 3.2.2.2).

/// 3.1.1: connection accepted.
pub const V3_ACCEPTED: u8 = 0;
/// 3.1.1: unacceptable protocol version.
pub const V3_UNACCEPTABLE_PROTOCOL: u8 = 1;
/// 3.1.1: identifier rejected.
pub const V3_IDENTIFIER_REJECTED: u8 = 2;
/// 3.1.1: server unavailable.
pub const V3_SERVER_UNAVAILABLE: u8 = 3;
/// 3.1.1: bad user name or password.
pub const V3_BAD_CREDENTIALS: u8 = 4;
/// 3.1.1: not authorized.
pub const V3_NOT_AUTHORIZED: u8 = 5;

/// 5.0: success.
pub const V5_SUCCESS: u8 = 0x00;
/// 5.0: unspecified error.
pub const V5_UNSPECIFIED: u8 = 0x80;
/// 5.0: malformed packet.
pub const V5_MALFORMED: u8 = 0x81;
/// 5.0: protocol error.
pub const V5_PROTOCOL_ERROR: u8 = 0x82;
/// 5.0: unsupported protocol version.
pub const V5_UNSUPPORTED_PROTOCOL: u8 = 0x84;
/// 5.0: client identifier not valid.
pub const V5_CLIENT_ID_INVALID: u8 = 0x85;
/// 5.0: bad user name or password.
pub const V5_BAD_CREDENTIALS: u8 = 0x86;
/// 5.0: not authorized.
pub const V5_NOT_AUTHORIZED: u8 = 0x87;
/// 5.0: server unavailable.
pub const V5_SERVER_UNAVAILABLE: u8 = 0x88;
/// 5.0: server busy.
pub const V5_SERVER_BUSY: u8 = 0x89;
/// 5.0: banned.
pub const V5_BANNED: u8 = 0x8A;
/// 5.0 DISCONNECT: session taken over (another connection with the same client id).
pub const V5_SESSION_TAKEN_OVER: u8 = 0x8E;
/// 5.0 DISCONNECT: keep alive timeout.
pub const V5_KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
/// 5.0: packet too large.
pub const V5_PACKET_TOO_LARGE: u8 = 0x95;
/// 5.0: quota exceeded.
pub const V5_QUOTA_EXCEEDED: u8 = 0x97;
/// 5.0: QoS not supported.
pub const V5_QOS_NOT_SUPPORTED: u8 = 0x9B;
/// 5.0: use another server.
pub const V5_USE_ANOTHER_SERVER: u8 = 0x9C;
/// 5.0: server moved.
pub const V5_SERVER_MOVED: u8 = 0x9D;
/// 5.0: connection rate exceeded.
pub const V5_CONNECTION_RATE_EXCEEDED: u8 = 0x9F;

/// 5.0 DISCONNECT: disconnect with will message (the server publishes it).
pub const V5_DISCONNECT_WITH_WILL: u8 = 0x04;
/// 5.0: topic filter invalid.
pub const V5_TOPIC_FILTER_INVALID: u8 = 0x8F;
/// 5.0: topic alias invalid (also: any alias when the maximum is 0).
pub const V5_TOPIC_ALIAS_INVALID: u8 = 0x94;
/// 5.0: retain not supported.
pub const V5_RETAIN_NOT_SUPPORTED: u8 = 0x9A;
/// 5.0: shared subscriptions not supported.
pub const V5_SHARED_SUBS_NOT_SUPPORTED: u8 = 0x9E;
/// 5.0: subscription identifiers not supported.
pub const V5_SUB_IDS_NOT_SUPPORTED: u8 = 0xA1;

/// SUBACK: failure (3.1.1) / unspecified error (5.0).
pub const SUBACK_FAILURE: u8 = 0x80;

/// Name of a CONNACK code, for tables and messages.
pub fn connack_name(v5: bool, code: u8) -> &'static str {
    if !v5 {
        return match code {
            0 => "accepted",
            1 => "unacceptable protocol version",
            2 => "identifier rejected",
            3 => "server unavailable",
            4 => "bad user name or password",
            5 => "not authorized",
            _ => "reserved",
        };
    }
    match code {
        0x00 => "success",
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x83 => "implementation specific error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8A => "banned",
        0x8C => "bad authentication method",
        0x90 => "topic name invalid",
        0x95 => "packet too large",
        0x97 => "quota exceeded",
        0x99 => "payload format invalid",
        0x9A => "retain not supported",
        0x9B => "QoS not supported",
        0x9C => "use another server",
        0x9D => "server moved",
        0x9F => "connection rate exceeded",
        _ => "reserved",
    }
}
