//! How many bytes a chain takes on the wire: the Certificate handshake
//! message a device's TLS input buffer must hold whole (small stacks such
//! as mbedTLS do not reassemble a handshake message split across records).

/// TLS version whose Certificate message layout applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CertMessageLayout {
    /// RFC 5246 §7.4.2: a 3-byte length before each certificate.
    Tls12,
    /// RFC 8446 §4.4.2: also a 1-byte request context and 2 bytes of
    /// (empty) extensions per certificate.
    Tls13,
}

/// Handshake header: msg_type (1) + length (3).
const HANDSHAKE_HEADER: usize = 4;

/// Length in bytes of the Certificate handshake message, its 4-byte header
/// included, for certificates of the given DER lengths.
pub fn certificate_message_len(
    der_lens: impl IntoIterator<Item = usize>,
    layout: CertMessageLayout,
) -> usize {
    let (context, per_cert_ext) = match layout {
        CertMessageLayout::Tls12 => (0, 0),
        CertMessageLayout::Tls13 => (1, 2),
    };
    let list: usize = der_lens.into_iter().map(|len| 3 + len + per_cert_ext).sum();
    HANDSHAKE_HEADER + context + 3 + list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_differ_by_context_and_extension_bytes() {
        // One 1,000-byte certificate: 4 + 3 + (3 + 1000) in TLS 1.2.
        assert_eq!(
            certificate_message_len([1000], CertMessageLayout::Tls12),
            1010
        );
        // TLS 1.3 adds the context byte and 2 bytes per certificate.
        assert_eq!(
            certificate_message_len([1000, 500], CertMessageLayout::Tls13),
            4 + 1 + 3 + (3 + 1000 + 2) + (3 + 500 + 2)
        );
    }
}
