//! A connection's side of the emulated link: writes wait until the link
//! says the bytes have reached the server, and bytes read wait until the
//! link says they have reached the device (see [`crate::link::Shaper`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::time::{sleep_until, Instant, Sleep};

use crate::link::Shaper;

/// The link state of one connection (boxed in the stream: a loopback
/// connection pays one pointer).
pub(super) struct LinkIo {
    pub(super) shaper: Shaper,
    /// Bytes whose arrival time has come, not yet written to the socket.
    released: usize,
    /// The bytes the running gate covers, and the gate.
    gate: Option<(usize, Pin<Box<Sleep>>)>,
    /// Bytes read from the socket, waiting for their arrival.
    held: Option<(Vec<u8>, Pin<Box<Sleep>>)>,
}

impl LinkIo {
    pub(super) fn new(shaper: Shaper) -> LinkIo {
        LinkIo {
            shaper,
            released: 0,
            gate: None,
            held: None,
        }
    }

    /// How many of the `pending` bytes may go to the socket now: the first
    /// call for a batch starts its clock (serialization, travel, losses).
    pub(super) fn poll_release(&mut self, cx: &mut Context<'_>, pending: usize) -> Poll<usize> {
        if self.released == 0 {
            let (covered, gate) = self.gate.get_or_insert_with(|| {
                let at = self.shaper.uplink(Instant::now(), pending);
                (pending, Box::pin(sleep_until(at)))
            });
            ready!(gate.as_mut().poll(cx));
            self.released = *covered;
            self.gate = None;
        }
        Poll::Ready(self.released.min(pending))
    }

    /// `n` released bytes went to the socket.
    pub(super) fn wrote(&mut self, n: usize) {
        self.released = self.released.saturating_sub(n);
    }

    /// Whether bytes wait for their arrival.
    pub(super) fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// Bytes just read from the socket: they arrive when the link says.
    pub(super) fn hold(&mut self, bytes: Vec<u8>) {
        let at = self.shaper.downlink(Instant::now(), bytes.len());
        self.held = Some((bytes, Box::pin(sleep_until(at))));
    }

    /// The held bytes once they have arrived; `None` when none are held.
    pub(super) fn poll_arrived(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        let Some((_, sleep)) = self.held.as_mut() else {
            return Poll::Ready(None);
        };
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(self.held.take().map(|(b, _)| b))
    }
}
