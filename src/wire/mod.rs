//! TLS as bytes on the wire, where rustls does not show them: the
//! ClientHello model the fuzzer mutates and the endpoint reads extensions
//! from (max_fragment_length offers, which rustls ignores).

pub mod client_hello;
