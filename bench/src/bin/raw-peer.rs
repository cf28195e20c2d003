//! The raw limit for chatgate's benchmarks: a WebSocket server that forwards each frame a client
//! sends, as it is, to the other clients of the same room — no protocol, no storage, no domain
//! logic, one encoding for all receivers. What chatgate does on top of this is the price of
//! being a chat server.
//!
//!   raw-peer [--port N]     # prints "listening on http://127.0.0.1:PORT"; rooms are URL paths
//!
//! A client of `ws://127.0.0.1:PORT/some-room` is in `some-room`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Rooms = Arc<Mutex<HashMap<String, Vec<(u64, mpsc::Sender<Message>)>>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 =
        std::env::args().skip_while(|a| a != "--port").nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    raise_fd_limit();
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let rooms: Rooms = Arc::default();
    let ids = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, rooms.clone(), ids.fetch_add(1, Ordering::Relaxed)));
    }
}

// The handshake callback's error type is tungstenite's own (an HTTP response), not ours to box.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, rooms: Rooms, id: u64) {
    let mut room = String::new();
    // Small buffers, as chatgate's own WebSocket doors use: the default 128 KiB read buffer would
    // make the "raw limit" the most memory-hungry server in the idle comparison.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(0);
    let accepted = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |req: &Request, res: Response| {
            room = req.uri().path().trim_start_matches('/').to_owned();
            Ok(res)
        },
        Some(config),
    )
    .await;
    let Ok(socket) = accepted else { return };
    let (mut sink, mut source) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(1024);
    if let Ok(mut r) = rooms.lock() {
        r.entry(room.clone()).or_default().push((id, tx));
    }
    let writer = async {
        while let Some(message) = rx.recv().await {
            if sink.feed(message).await.is_err() {
                return;
            }
            while let Ok(more) = rx.try_recv() {
                if sink.feed(more).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    };
    let reader = async {
        while let Some(Ok(message)) = source.next().await {
            if !(message.is_text() || message.is_binary()) {
                continue;
            }
            let Ok(r) = rooms.lock() else { return };
            for (other, tx) in r.get(&room).into_iter().flatten() {
                if *other != id {
                    let _ = tx.try_send(message.clone());
                }
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
    if let Ok(mut r) = rooms.lock()
        && let Some(list) = r.get_mut(&room)
    {
        list.retain(|(other, _)| *other != id);
    }
}

fn raise_fd_limit() {
    // SAFETY: plain libc calls on a stack value.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
