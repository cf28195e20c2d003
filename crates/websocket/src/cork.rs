//! Corking: inside [`corked`], frames sent to a connection are queued, and every connection
//! that received any is written once when the outermost `corked` returns — one vectored write
//! per connection for all its frames, however many events produced them.
//!
//! Under load this is what makes a broadcast cheap: events that arrive together are written
//! together, so a syscall carries several frames. Alone, an event is written at once, so
//! nothing waits for company. The cork is per thread and `corked` takes a plain closure, so
//! nothing can be left corked across an `.await`.

use std::cell::RefCell;
use std::sync::Arc;

use crate::socket::WebSocket;

/// Connections flushed by one task; a larger set is split over tasks so that other threads
/// can take part.
const CHUNK: usize = 256;

thread_local! {
    static PENDING: RefCell<Option<Vec<Arc<WebSocket>>>> = const { RefCell::new(None) };
}

/// Runs `f` with sends corked on this thread, then writes what they queued.
pub fn corked<R>(f: impl FnOnce() -> R) -> R {
    let outermost = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_some() {
            false
        } else {
            *p = Some(Vec::new());
            true
        }
    });
    if !outermost {
        return f();
    }
    let _flush = Uncork;
    f()
}

/// Flushes on drop, so that a panic in the corked closure does not leave the thread corked.
struct Uncork;

impl Drop for Uncork {
    fn drop(&mut self) {
        let pending = PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default();
        flush_all(pending);
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
        while sockets.len() > CHUNK {
            let chunk = sockets.split_off(sockets.len() - CHUNK);
            runtime.spawn(async move { chunk.iter().for_each(|s| s.flush()) });
        }
    }
    for socket in sockets {
        socket.flush();
    }
}
