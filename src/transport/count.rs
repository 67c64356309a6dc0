//! What crossed the socket: bytes and TLS records each way, and flights
//! (a flight ends when the direction changes). Counted from the bytes as
//! they are written and read, so a record split across reads counts once.

/// Counts TLS records in a byte stream from their 5-byte headers, across
/// any split of the stream into chunks. Reads lengths from the network:
/// any byte sequence is accepted (a garbage header is just a record of
/// the length it claims).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounter {
    /// Records whose header was seen.
    pub records: u32,
    /// Header bytes of the current record seen so far (0 to 4).
    header_seen: u8,
    /// The current record's length bytes (the header's last two).
    length: [u8; 2],
    /// Body bytes of the current record still to come.
    body_left: u32,
}

impl RecordCounter {
    /// Takes in the next chunk of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = (self.body_left as usize).min(bytes.len());
                self.body_left -= n as u32;
                bytes = &bytes[n..];
                continue;
            }
            // In a header: type (1), version (2), length (2).
            if self.header_seen >= 3 {
                self.length[usize::from(self.header_seen) - 3] = bytes[0];
            }
            self.header_seen += 1;
            bytes = &bytes[1..];
            if self.header_seen == 5 {
                self.records += 1;
                self.header_seen = 0;
                self.body_left = u32::from(u16::from_be_bytes(self.length));
            }
        }
    }
}

/// Direction of the last bytes counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Dir {
    #[default]
    None,
    Out,
    In,
}

/// Bytes, the peer's records and flights of one connection so far (our
/// own records are not counted: nothing reads them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireCount {
    /// TLS bytes written.
    pub bytes_out: u64,
    /// TLS bytes read.
    pub bytes_in: u64,
    /// Records read.
    pub records_in: RecordCounter,
    /// Flights either way: runs of bytes in one direction.
    pub flights: u32,
    last: Dir,
}

impl WireCount {
    /// Bytes written to the socket.
    pub fn sent(&mut self, bytes: &[u8]) {
        self.turn(Dir::Out, bytes.len());
        self.bytes_out += bytes.len() as u64;
    }

    /// Bytes read from the socket.
    pub fn received(&mut self, bytes: &[u8]) {
        self.turn(Dir::In, bytes.len());
        self.bytes_in += bytes.len() as u64;
        self.records_in.feed(bytes);
    }

    fn turn(&mut self, d: Dir, n: usize) {
        if n > 0 && self.last != d {
            self.flights += 1;
            self.last = d;
        }
    }

    /// The counts if `pending` (queued, not yet written) were written now.
    pub fn with_pending(&self, pending: &[u8]) -> WireCount {
        let mut c = *self;
        c.sent(pending);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u8, len: usize) -> Vec<u8> {
        let mut r = vec![typ, 3, 3];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0xab, len));
        r
    }

    #[test]
    fn records_count_once_whatever_the_split() {
        let mut stream = Vec::new();
        for (t, n) in [(22, 90), (20, 1), (23, 0), (23, 16_401), (21, 2)] {
            stream.extend(record(t, n));
        }
        for chunk in [1, 2, 3, 4, 5, 6, 7, 64, 1_500, stream.len()] {
            let mut c = RecordCounter::default();
            for part in stream.chunks(chunk) {
                c.feed(part);
            }
            assert_eq!(c.records, 5, "chunks of {chunk}");
            assert_eq!((c.header_seen, c.body_left), (0, 0));
        }
    }

    /// Hostile input: a header cut short is not a record until its last
    /// byte arrives; a repeated header is two records; the largest length
    /// a header can claim (65,535, beyond TLS's 2^14 + 256) is skipped whole.
    #[test]
    fn truncated_repeated_and_oversized_headers() {
        let mut c = RecordCounter::default();
        c.feed(&[22, 3, 3, 0]);
        assert_eq!(c.records, 0);
        c.feed(&[0]);
        assert_eq!((c.records, c.body_left), (1, 0));
        c.feed(&[22, 3, 3, 0, 0, 22, 3, 3, 0, 0]);
        assert_eq!(c.records, 3);
        c.feed(&[23, 3, 3, 0xff, 0xff]);
        c.feed(&vec![0u8; 65_535]);
        assert_eq!((c.records, c.body_left), (4, 0));
        c.feed(&[21, 3, 3, 0, 2, 1, 0]);
        assert_eq!((c.records, c.header_seen, c.body_left), (5, 0, 0));
    }

    /// Hostile input: any bytes, split anywhere, never panic, and the count
    /// never exceeds one record per five bytes.
    #[test]
    fn any_bytes_are_counted_without_panicking() {
        let mut x: u64 = 0x1234_5678;
        for _ in 0..200 {
            let len = (x % 3_000) as usize;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                bytes.push((x >> 56) as u8);
            }
            let mut c = RecordCounter::default();
            let split = (x % 17) as usize + 1;
            for part in bytes.chunks(split) {
                c.feed(part);
            }
            assert!(c.records as usize <= len / 5 + 1);
        }
    }

    #[test]
    fn flights_change_with_direction() {
        let mut w = WireCount::default();
        w.sent(&record(22, 200));
        w.received(&record(22, 90)[..50]);
        w.received(&record(22, 90)[50..]);
        w.sent(&[]);
        assert_eq!(w.flights, 2);
        let after = w.with_pending(&record(20, 1));
        assert_eq!((after.flights, after.bytes_out), (3, 211));
        assert_eq!(w.bytes_out, 205);
        assert_eq!(w.bytes_in, 95);
    }
}
