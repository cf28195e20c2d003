//! Corking: frames sent to a connection inside [`corked`] (or [`Batch::collect`]) are queued,
//! and each connection that received any is written once when the section ends (or when the
//! batch is flushed) — one vectored write for all its frames, however many events made them.
//!
//! Under load this is what makes a broadcast cheap: events that arrive together are written
//! together, so a syscall carries several frames. Alone, an event is written at once, so
//! nothing waits for company. The cork is per thread and takes a plain closure, so nothing can
//! be left corked across an `.await`; a [`Batch`] is how a task keeps connections to write
//! across awaits (to pace its writes).

use std::cell::RefCell;
use std::sync::Arc;

use crate::socket::WebSocket;

/// A flush of more connections than this leaves the async runtime: it is split into parts of
/// this size, each written on a blocking thread. Writing to thousands of sockets takes
/// milliseconds, and on the runtime's threads that would hold up every task queued behind it
/// (a request waiting for its database answer); on threads of their own, the kernel's
/// scheduler interleaves them with everything else.
const CHUNK: usize = 512;

thread_local! {
    static PENDING: RefCell<Option<Vec<Arc<WebSocket>>>> = const { RefCell::new(None) };
}

/// Runs `f` with sends corked on this thread, then writes what they queued.
pub fn corked<R>(f: impl FnOnce() -> R) -> R {
    let mut batch = Batch::new();
    let result = batch.collect(f);
    batch.flush();
    result
}

/// Connections with frames queued and not yet written.
#[derive(Default)]
pub struct Batch {
    sockets: Vec<Arc<WebSocket>>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Runs `f` with sends corked on this thread; the connections it sent to join the batch
    /// instead of being written. Inside another cork, they join that one.
    pub fn collect<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let outermost = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.is_some() {
                false
            } else {
                *p = Some(std::mem::take(&mut self.sockets));
                true
            }
        });
        if !outermost {
            return f();
        }
        // Taken back however `f` ends, so that a panic does not leave the thread corked.
        let uncork = Uncork { into: &mut self.sockets };
        let result = f();
        drop(uncork);
        result
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Connections in the batch.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Writes every connection of the batch.
    pub fn flush(&mut self) {
        flush_all(std::mem::take(&mut self.sockets));
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}

struct Uncork<'a> {
    into: &'a mut Vec<Arc<WebSocket>>,
}

impl Drop for Uncork<'_> {
    fn drop(&mut self) {
        *self.into = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
    }
}

/// Remembers `socket` for the end of the cork; `false` when this thread is not corked.
pub(crate) fn defer(socket: &Arc<WebSocket>) -> bool {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(list) => {
            list.push(socket.clone());
            true
        }
        None => false,
    })
}

fn flush_all(mut sockets: Vec<Arc<WebSocket>>) {
    if sockets.len() > CHUNK
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        while !sockets.is_empty() {
            let part = sockets.split_off(sockets.len().saturating_sub(CHUNK));
            runtime.spawn_blocking(move || part.iter().for_each(|s| s.flush()));
        }
        return;
    }
    for socket in sockets {
        socket.flush();
    }
}
