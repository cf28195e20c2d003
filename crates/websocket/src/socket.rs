//! One WebSocket connection: a shared handle to send frames through ([`WebSocket`]), and the
//! task that reads it ([`serve`]).
//!
//! Sending does not go through the connection's task. A frame is queued, and the queue is
//! written straight away by whoever sent it (or at the end of the sender's [`corked`] section)
//! with one non-blocking vectored write. Only when the socket's buffer is full does the
//! connection's own task take over, waiting until the socket is writable. So a broadcast wakes
//! no task per receiver, and an idle connection is one small task waiting to read.
//!
//! [`corked`]: crate::corked

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::frame::{CloseCode, Frame};
use crate::reader::{Incoming, Message, ReadError, Reader};

/// The sizes and times a connection lives by.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest message a client may send (after reassembly); larger ones close the
    /// connection with 1009.
    pub max_message_bytes: usize,
    /// Bytes that may wait to be written to a client that does not read; more close it.
    pub max_queued_bytes: usize,
    /// How long to wait for the client's close frame after sending ours.
    pub close_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 1 << 20,
            max_queued_bytes: 4 << 20,
            close_timeout: Duration::from_secs(3),
        }
    }
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent a close frame (with this code, if any).
    ClientClosed(Option<CloseCode>),
    /// The server closed it ([`WebSocket::close`]).
    ServerClosed(CloseCode),
    /// The client broke the protocol; it was sent a close frame saying how.
    Protocol(ReadError),
    /// The client did not read what it was sent, and its queue passed the limit.
    TooSlow,
    /// The connection ended without a close frame, or failed.
    Lost,
}

/// What the application does with a connection's messages. It runs in the connection's task,
/// one message at a time and in order, inside a [`corked`](crate::corked) section: it must
/// not block; work that waits belongs in a task of its own.
pub trait Handler: Send + 'static {
    fn on_message(&mut self, socket: &Arc<WebSocket>, message: Message<'_>);

    /// The connection ended; nothing more can be sent on it.
    fn on_close(&mut self, socket: &Arc<WebSocket>, reason: &CloseReason);
}

/// The sending side of a connection, shared by everyone who sends to it.
pub struct WebSocket {
    stream: TcpStream,
    out: Mutex<Outbox>,
    /// Tells the connection's task that the outbox needs it: blocked, closing or broken.
    wake: Notify,
    limits: Limits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// A close frame is queued (or written): nothing more is accepted.
    Closing,
    /// The connection is gone or must go now.
    Broken,
}

struct Outbox {
    frames: VecDeque<Frame>,
    /// Bytes of the front frame already written.
    written: usize,
    queued: usize,
    /// The socket would block; the connection's task writes the rest when it can.
    blocked: bool,
    phase: Phase,
    /// Why the connection is closing or broken.
    reason: Option<CloseReason>,
}

/// A frame was not sent: the connection is closing or gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the WebSocket connection is closed")
    }
}

impl std::error::Error for Closed {}

/// Most frames one vectored write takes (Linux allows 1024).
const MAX_SLICES: usize = 64;

impl WebSocket {
    pub(crate) fn new(stream: TcpStream, limits: Limits) -> Arc<WebSocket> {
        Arc::new(WebSocket {
            stream,
            out: Mutex::new(Outbox {
                frames: VecDeque::new(),
                written: 0,
                queued: 0,
                blocked: false,
                phase: Phase::Open,
                reason: None,
            }),
            wake: Notify::new(),
            limits,
        })
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.peer_addr().ok()
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A panic while holding the lock leaves nothing half-done that matters more than
        // serving the connection on.
        self.out.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `frame` and writes it now, or at the end of the current cork.
    pub fn send(self: &Arc<Self>, frame: Frame) -> Result<(), Closed> {
        self.send_all([frame])
    }

    /// Queues frames to be written together, now or at the end of the current cork.
    pub fn send_all(self: &Arc<Self>, frames: impl IntoIterator<Item = Frame>) -> Result<(), Closed> {
        let mut out = self.outbox();
        if out.phase != Phase::Open {
            return Err(Closed);
        }
        // With frames already waiting, a write of them is already due: these join it.
        let due = out.frames.is_empty() && !out.blocked;
        for frame in frames {
            if out.queued + frame.len() > self.limits.max_queued_bytes {
                self.break_off(&mut out, CloseReason::TooSlow);
                return Err(Closed);
            }
            out.queued += frame.len();
            out.frames.push_back(frame);
        }
        if due && !out.frames.is_empty() && !crate::cork::defer(self) {
            self.write_out(&mut out);
        }
        Ok(())
    }

    /// Sends a close frame after what is queued; the connection ends when the client answers
    /// it, or after the close timeout. Later sends fail.
    pub fn close(self: &Arc<Self>, code: CloseCode, reason: &str) {
        let mut out = self.outbox();
        self.begin_close(&mut out, code, reason, CloseReason::ServerClosed(code));
    }

    fn begin_close(
        self: &Arc<Self>,
        out: &mut MutexGuard<'_, Outbox>,
        code: CloseCode,
        text: &str,
        why: CloseReason,
    ) {
        if out.phase != Phase::Open {
            return;
        }
        let frame = Frame::close(code, text);
        out.queued += frame.len();
        out.frames.push_back(frame);
        out.phase = Phase::Closing;
        out.reason = Some(why);
        self.write_out(out);
        self.wake.notify_one();
    }

    /// Whether the connection still accepts frames.
    pub fn is_open(&self) -> bool {
        self.outbox().phase == Phase::Open
    }

    /// Writes what is queued, unless the connection's task is waiting to.
    pub(crate) fn flush(&self) {
        let mut out = self.outbox();
        self.write_out(&mut out);
    }

    fn write_out(&self, out: &mut Outbox) {
        if out.blocked || out.phase == Phase::Broken {
            return;
        }
        while !out.frames.is_empty() {
            let result = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let mut count = 0;
                for (slot, frame) in slices.iter_mut().zip(out.frames.iter()) {
                    let skip = if count == 0 { out.written } else { 0 };
                    *slot = IoSlice::new(&frame.wire()[skip..]);
                    count += 1;
                }
                self.stream.try_write_vectored(&slices[..count])
            };
            match result {
                Ok(0) => return self.break_off(out, CloseReason::Lost),
                Ok(mut n) => {
                    out.queued -= n;
                    while n > 0 {
                        let left = out.frames[0].len() - out.written;
                        if n < left {
                            out.written += n;
                            break;
                        }
                        n -= left;
                        out.written = 0;
                        out.frames.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    out.blocked = true;
                    self.wake.notify_one();
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.break_off(out, CloseReason::Lost),
            }
        }
        // A burst may have grown the queue; an idle connection should not keep that memory.
        if out.frames.capacity() > 32 {
            out.frames = VecDeque::new();
        }
        if out.phase == Phase::Closing {
            // Our close frame is out: the task now waits for the client's.
            self.wake.notify_one();
        }
    }

    fn break_off(&self, out: &mut Outbox, why: CloseReason) {
        if out.phase != Phase::Broken {
            out.phase = Phase::Broken;
            out.reason.get_or_insert(why);
            out.frames = VecDeque::new();
            out.queued = 0;
            self.wake.notify_one();
        }
    }

    /// Ends the TCP connection now, whoever still holds this handle.
    fn shut_down(&self) {
        // The stream lives as long as the last handle; shutting it down ends the connection now.
        let _ = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Both);
    }
}

/// Serves a connection: reads and hands its messages to `handler` until it ends, writing what
/// the connection's sends could not. `leftover` is what the client sent before the upgrade
/// completed.
pub async fn serve<H: Handler>(socket: Arc<WebSocket>, leftover: Bytes, mut handler: H) {
    let mut reader = Reader::new(socket.limits.max_message_bytes);
    let mut outcome = Read::More;
    if !leftover.is_empty() {
        let mut bytes = leftover.to_vec();
        outcome = crate::corked(|| deliver(&socket, &mut reader, &mut handler, &mut bytes));
    }
    // Even empty, `leftover` may be a slice of hyper's whole read buffer: kept for the life of
    // the connection, it would be most of an idle connection's memory.
    drop(leftover);
    let mut closing_since: Option<tokio::time::Instant> = None;
    let reason = loop {
        match outcome {
            Read::More => {}
            Read::Ended(reason) => break reason,
        }
        let (blocked, phase, written_all) = {
            let out = socket.outbox();
            (out.blocked, out.phase, out.frames.is_empty())
        };
        match phase {
            Phase::Broken => break take_reason(&socket),
            Phase::Closing if written_all => {
                if matches!(
                    socket.outbox().reason,
                    Some(CloseReason::ClientClosed(_) | CloseReason::Protocol(_))
                ) {
                    // We answered the client's close (or told it why we stop): done.
                    break take_reason(&socket);
                }
                closing_since.get_or_insert_with(tokio::time::Instant::now);
            }
            _ => {}
        }
        let deadline = closing_since.map(|t| t + socket.limits.close_timeout);
        tokio::select! {
            biased;
            () = socket.wake.notified() => continue,
            ready = socket.stream.writable(), if blocked => {
                if ready.is_err() {
                    break CloseReason::Lost;
                }
                let mut out = socket.outbox();
                out.blocked = false;
                socket.write_out(&mut out);
            }
            ready = socket.stream.readable() => {
                outcome = match ready {
                    Ok(()) => read_available(&socket, &mut reader, &mut handler),
                    Err(_) => Read::Ended(CloseReason::Lost),
                };
                if let Read::Ended(CloseReason::Lost) = outcome {
                    // The client went away; if we were closing, that is still why it ended.
                    outcome = Read::Ended(take_reason(&socket));
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => break take_reason(&socket),
        }
    };
    {
        let mut out = socket.outbox();
        out.phase = Phase::Broken;
        out.frames = VecDeque::new();
        out.queued = 0;
    }
    socket.shut_down();
    handler.on_close(&socket, &reason);
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn take_reason(socket: &WebSocket) -> CloseReason {
    socket.outbox().reason.clone().unwrap_or(CloseReason::Lost)
}

enum Read {
    More,
    Ended(CloseReason),
}

/// Reads what the socket has (a few reads at most, to be fair to the other connections) and
/// delivers it. Not async: the read buffer lives on the stack only while reading, never in
/// the connection's task.
fn read_available<H: Handler>(socket: &Arc<WebSocket>, reader: &mut Reader, handler: &mut H) -> Read {
    let mut buf = [0u8; 16 * 1024];
    for _ in 0..8 {
        match socket.stream.try_read(&mut buf) {
            Ok(0) => return Read::Ended(CloseReason::Lost),
            Ok(n) => {
                let delivered = crate::corked(|| deliver(socket, reader, handler, &mut buf[..n]));
                if let Read::Ended(reason) = delivered {
                    return Read::Ended(reason);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::More,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Read::Ended(CloseReason::Lost),
        }
    }
    Read::More
}

fn deliver<H: Handler>(
    socket: &Arc<WebSocket>,
    reader: &mut Reader,
    handler: &mut H,
    bytes: &mut [u8],
) -> Read {
    let result = reader.feed(bytes, &mut |incoming| match incoming {
        Incoming::Message(message) => {
            if socket.is_open() {
                handler.on_message(socket, message);
            }
        }
        Incoming::Ping(payload) => {
            let _ = socket.send(Frame::pong(payload));
        }
        Incoming::Pong => {}
        Incoming::Close(code) => {
            let mut out = socket.outbox();
            match out.phase {
                Phase::Open => {
                    let answer = code.unwrap_or(CloseCode::NORMAL);
                    socket.begin_close(&mut out, answer, "", CloseReason::ClientClosed(code));
                }
                // The answer to our close: the closing handshake is complete.
                Phase::Closing => out.phase = Phase::Broken,
                Phase::Broken => {}
            }
        }
    });
    match result {
        Ok(()) => Read::More,
        Err(error) => {
            tracing::debug!(%error, "closing a WebSocket that broke the protocol");
            let mut out = socket.outbox();
            let code = error.close_code();
            let text = error.to_string();
            socket.begin_close(&mut out, code, &text, CloseReason::Protocol(error));
            Read::More
        }
    }
}
