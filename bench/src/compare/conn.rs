//! One load-generator connection of any protocol, split so that a reader task (which answers
//! the protocol's pings and records deliveries) and a sender can work at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::ws::Socket;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    SocketIo,
    SignalR,
    Raw,
}

pub type Sink = Arc<Mutex<SplitSink<Socket, Message>>>;

pub struct Conn {
    pub protocol: Protocol,
    pub sink: Sink,
    pub stream: SplitStream<Socket>,
}

impl Conn {
    pub fn new(protocol: Protocol, socket: Socket) -> Conn {
        let (sink, stream) = socket.split();
        Conn { protocol, sink: Arc::new(Mutex::new(sink)), stream }
    }

    pub fn from_parts(
        protocol: Protocol,
        sink: SplitSink<Socket, Message>,
        stream: SplitStream<Socket>,
    ) -> Conn {
        Conn { protocol, sink: Arc::new(Mutex::new(sink)), stream }
    }
}

pub fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// The payload every sender sends: when it was sent, in which step, by which connection.
pub fn marker(step: usize, from: usize) -> String {
    format!("@ts={};s={step};f={from}", now_micros())
}

/// One marker found in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub sent_at: u64,
    pub step: usize,
    pub from: usize,
}

fn number(rest: &str) -> Option<(u64, &str)> {
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some((rest[..end].parse().ok()?, &rest[end..]))
}

/// The markers of a frame (one per record; a record may carry the marker twice, as SignalR's
/// content and plain text do).
pub fn deliveries(frame: &str) -> impl Iterator<Item = Delivery> + '_ {
    frame.split('\u{1e}').filter_map(|record| {
        let at = record.find("@ts=")? + 4;
        let (sent_at, rest) = number(&record[at..])?;
        let (step, rest) = number(rest.strip_prefix(";s=")?)?;
        let (from, _) = number(rest.strip_prefix(";f=")?)?;
        Some(Delivery { sent_at, step: step as usize, from: from as usize })
    })
}

/// Reads a connection to its end: answers Socket.IO pings, and calls `on_delivery` for every
/// marker that arrives.
pub async fn read_all(mut conn: Conn, mut on_delivery: impl FnMut(Delivery)) {
    while let Some(Ok(message)) = conn.stream.next().await {
        let Message::Text(text) = message else { continue };
        let text = text.as_str();
        if conn.protocol == Protocol::SocketIo && text == "2" {
            let _ = conn.sink.lock().await.send(Message::text("3")).await;
            continue;
        }
        for d in deliveries(text) {
            on_delivery(d);
        }
    }
}

/// SignalR clients must ping at least every 30 s or the server closes them.
pub fn keep_alive(conn: &Conn) -> Option<tokio::task::JoinHandle<()>> {
    if conn.protocol != Protocol::SignalR {
        return None;
    }
    let sink = conn.sink.clone();
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(10));
        every.tick().await;
        loop {
            every.tick().await;
            if sink.lock().await.send(Message::text("{\"type\":6}\u{1e}")).await.is_err() {
                return;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_once_per_record() {
        let frame =
            "{\"a\":\"@ts=12;s=3;f=1\",\"b\":\"@ts=12;s=3;f=1\"}\u{1e}{\"x\":\"@ts=99;s=0;f=7\"}\u{1e}";
        let found: Vec<_> = deliveries(frame).map(|d| (d.sent_at, d.step, d.from)).collect();
        assert_eq!(found, [(12, 3, 1), (99, 0, 7)]);
        assert_eq!(deliveries("@ts=5;s=1;f=2").count(), 1);
        assert_eq!(deliveries("no marker").count(), 0);
    }
}
