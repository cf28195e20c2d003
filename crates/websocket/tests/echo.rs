//! A WebSocket server built on this crate, served by axum on loopback, driven by an independent
//! client (tokio-tungstenite).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use chatgate_websocket::{CloseCode, CloseReason, Frame, Handler, Limits, Message, WebSocket, corked};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, protocol::CloseFrame};

/// Everyone connected; a text message is sent to every connection (the sender included), a
/// binary one echoed to its sender only, "close" makes the server close.
#[derive(Clone, Default)]
struct Room {
    members: Arc<Mutex<Vec<Arc<WebSocket>>>>,
    closed: Arc<Mutex<Vec<CloseReason>>>,
}

struct Member(Room);

impl Handler for Member {
    fn on_message(&mut self, socket: &Arc<WebSocket>, message: Message<'_>) {
        match message {
            Message::Text("close") => socket.close(CloseCode(4000), "asked to"),
            Message::Text(text) => {
                let frame = Frame::text(text);
                for member in self.0.members.lock().unwrap().iter() {
                    let _ = member.send(frame.clone());
                }
            }
            Message::Binary(bytes) => {
                let _ = socket.send(Frame::binary(bytes));
            }
        }
    }

    fn on_close(&mut self, socket: &Arc<WebSocket>, reason: &CloseReason) {
        self.0.members.lock().unwrap().retain(|m| !Arc::ptr_eq(m, socket));
        self.0.closed.lock().unwrap().push(reason.clone());
    }
}

async fn start(limits: Limits) -> (String, Room) {
    let room = Room::default();
    let state = room.clone();
    let app = axum::Router::new().route(
        "/ws",
        axum::routing::get(move |mut request: Request| {
            let room = state.clone();
            async move {
                let (response, upgrade) = match chatgate_websocket::accept(&mut request) {
                    Ok(accepted) => accepted,
                    Err(e) => return e.response().map(Body::from),
                };
                tokio::spawn(async move {
                    let Ok((socket, leftover)) = upgrade.websocket(limits).await else { return };
                    room.members.lock().unwrap().push(socket.clone());
                    chatgate_websocket::serve(socket, leftover, Member(room)).await;
                });
                response.map(|()| Body::empty())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("ws://{address}/ws"), room)
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn next(client: &mut Client) -> tungstenite::Message {
    tokio::time::timeout(Duration::from_secs(5), client.next()).await.unwrap().unwrap().unwrap()
}

async fn wait_for(what: impl Fn() -> bool) {
    for _ in 0..200 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out");
}

#[tokio::test]
async fn messages_reach_every_member_in_order_and_binary_echoes() {
    let (url, room) = start(Limits::default()).await;
    let mut a = connect(&url).await;
    let mut b = connect(&url).await;
    wait_for(|| room.members.lock().unwrap().len() == 2).await;
    for i in 0..100 {
        a.send(tungstenite::Message::text(format!("m{i}"))).await.unwrap();
    }
    for client in [&mut a, &mut b] {
        for i in 0..100 {
            assert_eq!(next(client).await, tungstenite::Message::text(format!("m{i}")));
        }
    }
    let big = vec![9u8; 200_000];
    b.send(tungstenite::Message::binary(big.clone())).await.unwrap();
    assert_eq!(next(&mut b).await, tungstenite::Message::binary(big));
    b.send(tungstenite::Message::Ping(b"hi".to_vec().into())).await.unwrap();
    assert_eq!(next(&mut b).await, tungstenite::Message::Pong(b"hi".to_vec().into()));
}

#[tokio::test]
async fn a_client_close_is_answered_and_reported() {
    let (url, room) = start(Limits::default()).await;
    let mut a = connect(&url).await;
    a.close(Some(CloseFrame { code: 4321.into(), reason: "bye".into() })).await.unwrap();
    match next(&mut a).await {
        tungstenite::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4321),
        other => panic!("{other:?}"),
    }
    wait_for(|| !room.closed.lock().unwrap().is_empty()).await;
    assert_eq!(room.closed.lock().unwrap()[0], CloseReason::ClientClosed(Some(CloseCode(4321))));
}

#[tokio::test]
async fn a_server_close_completes_the_handshake() {
    let (url, room) = start(Limits::default()).await;
    let mut a = connect(&url).await;
    a.send(tungstenite::Message::text("close")).await.unwrap();
    match next(&mut a).await {
        tungstenite::Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4000);
            assert_eq!(frame.reason.as_str(), "asked to");
        }
        other => panic!("{other:?}"),
    }
    // tungstenite answers the close as it reads it; the server then ends the connection.
    assert!(tokio::time::timeout(Duration::from_secs(5), a.next()).await.unwrap().is_none());
    wait_for(|| !room.closed.lock().unwrap().is_empty()).await;
    assert_eq!(room.closed.lock().unwrap()[0], CloseReason::ServerClosed(CloseCode(4000)));
}

#[tokio::test]
async fn oversized_messages_close_with_1009_and_the_others_carry_on() {
    let limits = Limits { max_message_bytes: 1000, ..Limits::default() };
    let (url, room) = start(limits).await;
    let mut bad = connect(&url).await;
    let mut good = connect(&url).await;
    wait_for(|| room.members.lock().unwrap().len() == 2).await;
    bad.send(tungstenite::Message::binary(vec![0u8; 5000])).await.unwrap();
    match next(&mut bad).await {
        tungstenite::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("{other:?}"),
    }
    wait_for(|| room.members.lock().unwrap().len() == 1).await;
    good.send(tungstenite::Message::text("still here")).await.unwrap();
    assert_eq!(next(&mut good).await, tungstenite::Message::text("still here"));
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_when_its_queue_is_full() {
    let limits = Limits { max_queued_bytes: 256 * 1024, ..Limits::default() };
    let (url, room) = start(limits).await;
    let _sleeper = connect(&url).await;
    let mut sender = connect(&url).await;
    wait_for(|| room.members.lock().unwrap().len() == 2).await;
    let chunk = "x".repeat(60_000);
    let sending = async {
        // The sender reads what it gets back; the sleeper never reads.
        for _ in 0..400 {
            sender.send(tungstenite::Message::text(chunk.clone())).await.unwrap();
            next(&mut sender).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), sending).await.unwrap();
    wait_for(|| room.closed.lock().unwrap().contains(&CloseReason::TooSlow)).await;
    assert_eq!(room.members.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn corked_sends_leave_in_order_after_the_section() {
    let (url, room) = start(Limits::default()).await;
    let mut a = connect(&url).await;
    wait_for(|| room.members.lock().unwrap().len() == 1).await;
    let member = room.members.lock().unwrap()[0].clone();
    corked(|| {
        for i in 0..50 {
            member.send(Frame::text(format!("c{i}"))).unwrap();
        }
    });
    for i in 0..50 {
        assert_eq!(next(&mut a).await, tungstenite::Message::text(format!("c{i}")));
    }
}
