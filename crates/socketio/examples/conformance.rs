//! The server the Socket.IO and Engine.IO protocol test suites expect
//! (github.com/socketio/socket.io-protocol and engine.io-protocol, `test-suite/`): Socket.IO at
//! `/socket.io/` with the namespaces `/` and `/custom`, and a bare Engine.IO echo at
//! `/engine.io/`, on port 3000 with the suites' timings.
//!
//!   cargo run -p chatgate-socketio --example conformance
//!   # then, in each suite's test-suite/ folder: npm ci && npm test

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::routing::any;
use chatgate_socketio::engine::{BadPacket, CloseReason, Engine, EngineHandler, Session};
use chatgate_socketio::{
    ConnectError, Connecting, EngineConfig, Event, NamespaceHandler, Payload, Socket, SocketIo,
    SocketIoConfig,
};
use chatgate_websocket::Frame;
use serde_json::{Value, json};

/// Emits `auth` with the CONNECT payload; `/` also echoes `message` and acknowledges
/// `message-with-ack` with its own arguments.
struct Suite {
    echo: bool,
}

impl NamespaceHandler for Suite {
    type Data = Value;

    fn connect(&self, request: &Connecting<'_>) -> Result<Value, ConnectError> {
        Ok(request.auth.cloned().unwrap_or_else(|| json!({})))
    }

    fn connected(&self, socket: &Socket<Value>) {
        // From a task of its own: the suites read each packet with a listener added after the
        // one before, so two packets arriving in one read would lose the second.
        let socket = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let _ = socket.emit("auth", socket.data());
        });
    }

    fn event(&self, socket: &Socket<Value>, event: Event) {
        if !self.echo {
            return;
        }
        match (event.name.as_str(), event.ack) {
            ("message", _) => {
                let _ = socket.emit_payload("message-back", &event.payload);
            }
            ("message-with-ack", Some(ack)) => {
                let _ = ack.send_payload(Payload { ..event.payload });
            }
            _ => {}
        }
    }
}

/// Engine.IO alone: every message goes back to its sender.
struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn new_session(&self) {}

    fn on_message(&self, session: &Arc<Session<()>>, text: &str) -> Result<(), BadPacket> {
        let _ = session.send(Frame::text(format!("4{text}")));
        Ok(())
    }

    fn on_binary(&self, session: &Arc<Session<()>>, data: &[u8]) -> Result<(), BadPacket> {
        let _ = session.send(Frame::binary(data));
        Ok(())
    }

    fn on_close(&self, _: &Arc<Session<()>>, _: CloseReason) {}
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let engine = EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        ..EngineConfig::default()
    };
    let io = SocketIo::new(SocketIoConfig {
        engine,
        connect_timeout: Duration::from_millis(1000),
        ..Default::default()
    });
    io.namespace("/", Suite { echo: true });
    io.namespace("/custom", Suite { echo: false });
    let echo = Engine::new(Echo, engine);
    let serve_echo = any(move |request: Request| {
        let echo = echo.clone();
        async move { echo.handle(request).await }
    });
    let app = io.router().route("/engine.io/", serve_echo.clone()).route("/engine.io", serve_echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
