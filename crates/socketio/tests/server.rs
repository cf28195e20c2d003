//! The server on loopback, driven over raw WebSocket and HTTP by a client that speaks the
//! protocol's frames (tokio-tungstenite for the WebSocket): rooms, acknowledgements both ways,
//! disconnects, the connect check and timeout, long-polling and the upgrade.
//! The official JavaScript client is exercised by chatgate's Node tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatgate_socketio::{
    AckError, ConnectError, Connecting, DisconnectReason, EngineConfig, Event, Namespace, NamespaceHandler,
    Socket, SocketIo, SocketIoConfig,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// `/room`: a client connects with `{"name": …, "rooms": [...]}` and joins those rooms;
/// `echo` is acknowledged with its arguments; `bye` makes the server disconnect it;
/// `/closed` refuses everyone.
#[derive(Clone, Default)]
struct Rooms {
    left: Arc<Mutex<Vec<(String, DisconnectReason)>>>,
    sockets: Arc<Mutex<Vec<Socket<String>>>>,
}

impl NamespaceHandler for Rooms {
    type Data = String;

    fn connect(&self, request: &Connecting<'_>) -> Result<String, ConnectError> {
        let name = request.auth.and_then(|a| a.get("name")).and_then(Value::as_str);
        name.map(str::to_owned).ok_or_else(|| ConnectError::new("a name is required"))
    }

    fn connected(&self, socket: &Socket<String>) {
        self.sockets.lock().unwrap().push(socket.clone());
    }

    fn event(&self, socket: &Socket<String>, mut event: Event) {
        match event.name.as_str() {
            "join" => {
                if let Some(Value::String(room)) = event.take_data() {
                    socket.join(room);
                }
            }
            "echo" => {
                if let Some(ack) = event.ack {
                    ack.send_payload(event.payload).unwrap();
                }
            }
            "bye" => socket.disconnect(),
            _ => {}
        }
    }

    fn disconnected(&self, socket: &Socket<String>, reason: DisconnectReason) {
        self.left.lock().unwrap().push((socket.data().clone(), reason));
    }
}

struct Closed;

impl NamespaceHandler for Closed {
    type Data = ();

    fn connect(&self, _: &Connecting<'_>) -> Result<(), ConnectError> {
        Err(ConnectError { message: "not today".into(), data: Some(json!({"retry": false})) })
    }

    fn event(&self, _: &Socket<()>, _: Event) {}
}

struct Server {
    address: String,
    rooms: Rooms,
    ns: Namespace,
}

async fn start(config: SocketIoConfig) -> Server {
    let io = SocketIo::new(config);
    let rooms = Rooms::default();
    let ns = io.namespace("/room", rooms.clone());
    io.namespace("/closed", Closed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let app = io.router::<()>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { address, rooms, ns }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Client {
    ws: Ws,
}

impl Client {
    async fn open(address: &str) -> Client {
        let url = format!("ws://{address}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = Client { ws };
        let open = client.next().await;
        assert!(open.starts_with("0{"), "{open}");
        client
    }

    /// A client connected to `/room` as `name`.
    async fn named(address: &str, name: &str) -> Client {
        let mut client = Client::open(address).await;
        client.send(&format!("40/room,{}", json!({"name": name}))).await;
        let connected = client.next().await;
        assert!(connected.starts_with("40/room,{\"sid\":"), "{connected}");
        client
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next text frame that is not a ping.
    async fn next(&mut self) -> String {
        loop {
            let message =
                tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await.unwrap().unwrap().unwrap();
            match message {
                Message::Text(t) if t.as_str() == "2" => self.send("3").await,
                Message::Text(t) => return t.as_str().to_owned(),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Asserts nothing but pings arrives within a moment.
    async fn quiet(&mut self) {
        let waited = tokio::time::timeout(Duration::from_millis(200), self.next()).await;
        assert!(waited.is_err(), "unexpected {waited:?}");
    }
}

async fn until(what: impl Fn() -> bool) {
    for _ in 0..300 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out");
}

#[tokio::test]
async fn a_broadcast_reaches_each_socket_of_its_rooms_once_and_skips_excluded_ones() {
    let server = start(SocketIoConfig::default()).await;
    let mut a = Client::named(&server.address, "a").await;
    let mut b = Client::named(&server.address, "b").await;
    let mut ab = Client::named(&server.address, "ab").await;
    let mut c = Client::named(&server.address, "c").await;
    a.send("42/room,[\"join\",\"A\"]").await;
    b.send("42/room,[\"join\",\"B\"]").await;
    ab.send("42/room,[\"join\",\"A\"]").await;
    ab.send("42/room,[\"join\",\"B\"]").await;
    c.send("42/room,[\"join\",\"A\"]").await;
    c.send("42/room,[\"join\",\"C\"]").await;
    until(|| server.ns.room_size("A") == 3 && server.ns.room_size("B") == 2).await;

    let sent = server.ns.to("A").to("B").except("C").emit("news", &json!({"n": 1})).unwrap();

    assert_eq!(sent, 3);
    for client in [&mut a, &mut b, &mut ab] {
        assert_eq!(client.next().await, "42/room,[\"news\",{\"n\":1}]");
        client.quiet().await;
    }
    c.quiet().await;
}

#[tokio::test]
async fn a_socket_is_a_room_of_its_own_and_to_leaves_the_sender_out() {
    let server = start(SocketIoConfig::default()).await;
    let a = Client::named(&server.address, "a").await;
    let b = Client::named(&server.address, "b").await;
    until(|| server.rooms.sockets.lock().unwrap().len() == 2).await;
    let (sa, sb) = {
        let sockets = server.rooms.sockets.lock().unwrap();
        (sockets[0].clone(), sockets[1].clone())
    };
    let (sa, mut a, mut b) = if sa.data() == "a" { (sa, a, b) } else { (sb, b, a) };

    server.ns.to(sa.id()).emit("only", "you").unwrap();
    assert_eq!(a.next().await, "42/room,[\"only\",\"you\"]");
    b.quiet().await;

    a.send("42/room,[\"join\",\"both\"]").await;
    b.send("42/room,[\"join\",\"both\"]").await;
    until(|| server.ns.room_size("both") == 2).await;
    sa.to("both").emit("from-a", &1).unwrap();
    assert_eq!(b.next().await, "42/room,[\"from-a\",1]");
    a.quiet().await;
}

#[tokio::test]
async fn acknowledgements_go_both_ways() {
    let server = start(SocketIoConfig::default()).await;
    let mut a = Client::named(&server.address, "a").await;
    a.send("42/room,17[\"echo\",1,{\"two\":2}]").await;
    assert_eq!(a.next().await, "43/room,17[1,{\"two\":2}]");

    until(|| server.rooms.sockets.lock().unwrap().len() == 1).await;
    let socket = server.rooms.sockets.lock().unwrap()[0].clone();
    let asking = tokio::spawn({
        let socket = socket.clone();
        async move { socket.emit_with_ack("question", &"?", Duration::from_secs(5)).await }
    });
    let question = a.next().await;
    assert_eq!(question, "42/room,1[\"question\",\"?\"]");
    a.send("43/room,1[\"answer\"]").await;
    let answer = asking.await.unwrap().unwrap();
    assert_eq!(answer.args, vec![json!("answer")]);

    let unanswered = socket.emit_with_ack("question", &"again?", Duration::from_millis(100)).await;
    assert_eq!(unanswered, Err(AckError::Timeout));
}

#[tokio::test]
async fn the_handler_hears_why_each_socket_left() {
    let server = start(SocketIoConfig::default()).await;
    let mut leaving = Client::named(&server.address, "leaving").await;
    let mut sent_away = Client::named(&server.address, "sent-away").await;
    let gone = Client::named(&server.address, "gone").await;
    leaving.send("41/room,").await;
    sent_away.send("42/room,[\"bye\"]").await;
    assert_eq!(sent_away.next().await, "41/room,");
    drop(gone);
    until(|| server.rooms.left.lock().unwrap().len() == 3).await;
    let mut left = server.rooms.left.lock().unwrap().clone();
    left.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        left,
        [
            ("gone".to_owned(), DisconnectReason::Transport(chatgate_socketio::CloseReason::TransportClose)),
            ("leaving".to_owned(), DisconnectReason::ClientNamespaceDisconnect),
            ("sent-away".to_owned(), DisconnectReason::ServerNamespaceDisconnect),
        ]
    );
    assert_eq!(server.ns.socket_count(), 0);
    // Leaving a namespace keeps the connection: it can join again.
    leaving.send("40/room,{\"name\":\"back\"}").await;
    assert!(leaving.next().await.starts_with("40/room,"));
}

#[tokio::test]
async fn a_refused_connect_says_why_and_the_connection_stays_usable() {
    let server = start(SocketIoConfig::default()).await;
    let mut client = Client::open(&server.address).await;
    client.send("40/closed,").await;
    assert_eq!(client.next().await, "44/closed,{\"data\":{\"retry\":false},\"message\":\"not today\"}");
    client.send("40/room,{}").await;
    assert_eq!(client.next().await, "44/room,{\"message\":\"a name is required\"}");
    client.send("40/nowhere,").await;
    assert_eq!(client.next().await, "44/nowhere,{\"message\":\"Invalid namespace\"}");
    client.send("40/room,{\"name\":\"finally\"}").await;
    assert!(client.next().await.starts_with("40/room,{\"sid\":"));
}

#[tokio::test]
async fn a_connection_that_joins_no_namespace_is_closed_after_the_connect_timeout() {
    let config = SocketIoConfig { connect_timeout: Duration::from_millis(300), ..SocketIoConfig::default() };
    let server = start(config).await;
    let mut idle = Client::open(&server.address).await;
    let mut joined = Client::named(&server.address, "joined").await;
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match idle.ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the idle connection should be closed");
    joined.quiet().await;
    joined.send("42/room,1[\"echo\",\"still here\"]").await;
    assert_eq!(joined.next().await, "43/room,1[\"still here\"]");
}

#[tokio::test]
async fn unanswered_pings_end_the_session() {
    let engine = EngineConfig {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(100),
        ..EngineConfig::default()
    };
    let server = start(SocketIoConfig { engine, ..SocketIoConfig::default() }).await;
    let mut silent = Client::named(&server.address, "silent").await;
    let mut answering = Client::named(&server.address, "answering").await;
    // `Client::next` answers pings; reading the raw stream does not.
    let ping = tokio::time::timeout(Duration::from_secs(2), silent.ws.next()).await.unwrap();
    assert!(matches!(ping, Some(Ok(Message::Text(ref t))) if t.as_str() == "2"), "{ping:?}");
    // Meanwhile `answering` answers every ping it gets.
    for _ in 0..25 {
        if !server.rooms.left.lock().unwrap().is_empty() {
            break;
        }
        answering.quiet().await;
    }
    assert_eq!(server.rooms.left.lock().unwrap().len(), 1);
    assert_eq!(
        server.rooms.left.lock().unwrap()[0],
        ("silent".to_owned(), DisconnectReason::Transport(chatgate_socketio::CloseReason::PingTimeout))
    );
    answering.quiet().await;
    answering.send("42/room,1[\"echo\",1]").await;
    assert_eq!(answering.next().await, "43/room,1[1]");
}

/// One HTTP/1.1 request on a fresh connection; the answer's status and body.
async fn http(address: &str, method: &str, target: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // One chunk is all these answers ever are.
        body.split_once("\r\n")
            .map(|(_, rest)| rest.rsplit_once("\r\n0\r\n").map_or(rest, |(chunk, _)| chunk))
            .unwrap_or(body)
    } else {
        body
    };
    (status, body.to_owned())
}

#[tokio::test]
async fn a_polling_session_works_and_keeps_its_queue_across_the_upgrade() {
    let server = start(SocketIoConfig::default()).await;
    let (status, open) = http(&server.address, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    assert_eq!(status, 200);
    let open: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(open["upgrades"], json!(["websocket"]));
    let sid = open["sid"].as_str().unwrap().to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");

    let (status, ok) =
        http(&server.address, "POST", &path, "40/room,{\"name\":\"poller\"}\u{1e}42/room,[\"join\",\"P\"]")
            .await;
    assert_eq!((status, ok.as_str()), (200, "ok"));
    let (_, connected) = http(&server.address, "GET", &path, "").await;
    assert!(connected.starts_with("40/room,{\"sid\":"), "{connected}");
    until(|| server.ns.room_size("P") == 1).await;

    // Queued while polling, delivered after the upgrade, in order.
    server.ns.to("P").emit("first", &1).unwrap();
    server.ns.to("P").emit("second", &2).unwrap();
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket&sid={sid}", server.address);
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut upgraded = Client { ws };
    upgraded.send("2probe").await;
    assert_eq!(upgraded.next().await, "3probe");
    upgraded.send("5").await;
    assert_eq!(upgraded.next().await, "42/room,[\"first\",1]");
    assert_eq!(upgraded.next().await, "42/room,[\"second\",2]");
    server.ns.to("P").emit("third", &3).unwrap();
    assert_eq!(upgraded.next().await, "42/room,[\"third\",3]");
    let (status, _) = http(&server.address, "GET", &path, "").await;
    assert_eq!(status, 400, "polling is over for an upgraded session");
}

#[tokio::test]
async fn bad_requests_get_engine_io_errors() {
    let server = start(SocketIoConfig::default()).await;
    let cases = [
        ("GET", "/socket.io/?EIO=4", "{\"code\":0,\"message\":\"Transport unknown\"}"),
        (
            "GET",
            "/socket.io/?EIO=3&transport=polling",
            "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=polling&sid=nope",
            "{\"code\":1,\"message\":\"Session ID unknown\"}",
        ),
        ("POST", "/socket.io/?EIO=4&transport=polling", "{\"code\":2,\"message\":\"Bad handshake method\"}"),
    ];
    for (method, target, expected) in cases {
        let (status, body) = http(&server.address, method, target, "").await;
        assert_eq!((status, body.as_str()), (400, expected), "{method} {target}");
    }
    let (_, open) = http(&server.address, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    let sid = serde_json::from_str::<Value>(&open[1..]).unwrap()["sid"].as_str().unwrap().to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let (status, _) = http(&server.address, "POST", &path, "not a packet").await;
    assert_eq!(status, 400);
    let (status, _) = http(&server.address, "GET", &path, "").await;
    assert_eq!(status, 400, "a malformed packet ends the session");
}

#[tokio::test]
async fn a_polling_client_that_stops_polling_is_let_go_when_its_queue_fills() {
    let engine = EngineConfig {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_secs(5),
        max_queued_bytes: 4096,
        ..EngineConfig::default()
    };
    let server = start(SocketIoConfig { engine, ..SocketIoConfig::default() }).await;
    let (_, open) = http(&server.address, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    let sid = serde_json::from_str::<Value>(&open[1..]).unwrap()["sid"].as_str().unwrap().to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http(&server.address, "POST", &path, "40/room,{\"name\":\"sleeper\"}").await;
    until(|| server.ns.socket_count() == 1).await;

    let big = "x".repeat(1000);
    for _ in 0..10 {
        server.ns.emit("news", &big).unwrap();
    }
    until(|| !server.rooms.left.lock().unwrap().is_empty()).await;
    assert_eq!(
        server.rooms.left.lock().unwrap()[0],
        ("sleeper".to_owned(), DisconnectReason::Transport(chatgate_socketio::CloseReason::TransportError))
    );
    let (status, _) = http(&server.address, "GET", &path, "").await;
    assert_eq!(status, 400);
}
