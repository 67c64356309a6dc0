//! TLS over a TCP socket on rustls' unbuffered API, for the load engine's
//! devices and the endpoint's connections.
//!
//! Why not tokio-rustls: a buffered rustls connection keeps a 4 KiB read
//! buffer for its whole life, which is a third of a held device; and its
//! stream writes every record rustls emits as its own segment (the client's
//! middlebox-compatibility CCS, then its Finished, then the first
//! application data), and every segment on loopback wakes the peer. Here a
//! connection owns buffers only while they hold bytes, reads go through one
//! scratch buffer per thread, and a flight is written once, when the
//! connection next waits for the peer or the caller writes.
//!
//! A client connection may run over an emulated link ([`crate::link`]):
//! its writes and reads are delayed as that link would delay them.
//!
//! Depends on `link` only.

mod count;
mod record;
mod scratch;
mod shaped;
mod stream;

pub use count::{RecordCounter, WireCount};
pub use record::RecordError;
pub use stream::{Side, TlsStream};

/// A client connection over TCP.
pub type ClientTls = TlsStream<rustls::client::UnbufferedClientConnection>;

/// A server connection over TCP.
pub type ServerTls = TlsStream<rustls::server::UnbufferedServerConnection>;
