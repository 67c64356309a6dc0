//! One read buffer per thread, shared by every connection the thread polls.
//!
//! A connection reads into it, lets rustls decrypt in place, and copies out
//! only what is left over: plaintext the caller has not read yet and a
//! partial record. An idle connection therefore holds no read buffer.

use std::cell::RefCell;

/// Large enough for the largest TLS 1.2 ciphertext record (16,384 B of
/// plaintext + 2,048 B expansion + the 5 B header), so one read can always
/// complete a record.
pub(crate) const SCRATCH_LEN: usize = 16_384 + 2_048 + 5;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; SCRATCH_LEN].into_boxed_slice());
}

/// Runs `f` with this thread's scratch buffer. Not re-entrant: `f` must not
/// call `with_scratch` again (nothing under rustls' record processing does).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with_borrow_mut(|s| f(s))
}
