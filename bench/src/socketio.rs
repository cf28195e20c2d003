//! A minimal Socket.IO v5 client (Engine.IO v4 over WebSocket) for load: the open packet, a
//! namespace connect with an auth payload, events out, events in, and pongs for the server's
//! pings. Frames are read as text and left to the scenario to interpret, so a receiver costs
//! little more than its socket.

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::ws::Socket;

pub struct SocketIoClient {
    socket: Socket,
    namespace: String,
}

/// What one Engine.IO frame carried for the client.
pub enum Incoming {
    /// A Socket.IO event of the client's namespace, still encoded: `["NAME",…]`.
    Event(String),
    /// Anything else (pings are answered before this is returned).
    Other,
}

impl SocketIoClient {
    /// Opens an Engine.IO WebSocket and connects to `namespace` with `{token}` as its auth.
    pub async fn connect(base: &str, namespace: &str, token: Option<&str>) -> anyhow::Result<SocketIoClient> {
        let auth = token.map(|t| json!({"token": t})).unwrap_or_else(|| json!({}));
        SocketIoClient::connect_with_auth(base, namespace, &auth).await
    }

    /// Opens an Engine.IO WebSocket and connects to `namespace` with `auth` as its auth payload.
    pub async fn connect_with_auth(
        base: &str,
        namespace: &str,
        auth: &Value,
    ) -> anyhow::Result<SocketIoClient> {
        let url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http", "ws", 1));
        let socket = crate::ws::connect(&url).await?;
        let mut client = SocketIoClient { socket, namespace: namespace.to_owned() };
        match client.socket.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => {}
            other => bail!("no Engine.IO open packet: {other:?}"),
        }
        client.socket.send(Message::text(format!("40{namespace},{auth}"))).await?;
        let connected = format!("40{namespace},");
        let refused = format!("44{namespace},");
        loop {
            let frame = client.read_text().await?;
            if frame.starts_with(&connected) {
                return Ok(client);
            }
            if let Some(reason) = frame.strip_prefix(&refused) {
                bail!("namespace connect refused: {reason}");
            }
        }
    }

    /// Sends an event with one argument.
    pub async fn emit(&mut self, event: &str, payload: &Value) -> anyhow::Result<()> {
        let frame = format!("42{},{}", self.namespace, json!([event, payload]));
        self.socket.send(Message::text(frame)).await?;
        Ok(())
    }

    /// The underlying WebSocket, once connected (for load generators that read and write from
    /// separate tasks).
    pub fn into_socket(self) -> Socket {
        self.socket
    }

    /// The next frame, answering pings on the way.
    pub async fn next(&mut self) -> anyhow::Result<Incoming> {
        let frame = self.read_text().await?;
        let prefix_len = 2 + self.namespace.len() + 1;
        if frame.starts_with("42") && frame[2..].starts_with(&self.namespace) && frame.len() > prefix_len {
            return Ok(Incoming::Event(frame[prefix_len..].to_owned()));
        }
        Ok(Incoming::Other)
    }

    /// The next event named `name`, decoded (its first argument).
    pub async fn next_event(&mut self, name: &str) -> anyhow::Result<Value> {
        loop {
            if let Incoming::Event(e) = self.next().await? {
                let mut v: Value = serde_json::from_str(&e)?;
                if v[0] == name {
                    return Ok(v[1].take());
                }
                if v[0] == "ERROR" {
                    bail!("waiting for {name}: {}", v[1]);
                }
            }
        }
    }

    async fn read_text(&mut self) -> anyhow::Result<String> {
        while let Some(message) = self.socket.next().await {
            match message? {
                Message::Text(t) if t.as_str() == "2" => self.socket.send(Message::text("3")).await?,
                Message::Text(t) => return Ok(t.as_str().to_owned()),
                Message::Close(_) => bail!("the server closed the socket"),
                _ => {}
            }
        }
        bail!("the socket ended")
    }
}
