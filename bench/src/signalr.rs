//! A minimal SignalR client for load: negotiate, WebSocket, JSON handshake, invocations. It
//! reads frames as text and leaves their interpretation to the scenario, so a receiver costs
//! little more than its socket.

use anyhow::{Context, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::http::Connection;

const RS: char = '\u{1e}';

use crate::ws::Socket;

pub struct HubClient {
    pub sink: SplitSink<Socket, Message>,
    pub stream: SplitStream<Socket>,
    next_id: u64,
}

impl HubClient {
    /// Negotiates (version 1), connects over WebSockets and completes the handshake.
    pub async fn connect(base: &str, hub: &str, token: &str) -> anyhow::Result<HubClient> {
        let mut http = Connection::open(base).await?;
        let negotiated = http
            .expect(200, "POST", &format!("/hubs/{hub}/negotiate?negotiateVersion=1"), token, None)
            .await?;
        let id = negotiated["connectionToken"].as_str().context("negotiate gave no connectionToken")?;
        let url = format!("{}/hubs/{hub}?id={id}&access_token={token}", base.replacen("http", "ws", 1));
        let socket = crate::ws::connect(&url).await?;
        let (mut sink, mut stream) = socket.split();
        sink.send(Message::text(format!("{{\"protocol\":\"json\",\"version\":1}}{RS}"))).await?;
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with("{}") => {}
            other => bail!("handshake failed: {other:?}"),
        }
        Ok(HubClient { sink, stream, next_id: 0 })
    }

    /// Invokes `target` and waits for its completion (skipping other frames).
    pub async fn invoke(&mut self, target: &str, arguments: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let frame = json!({"type": 1, "invocationId": id, "target": target, "arguments": arguments});
        self.sink.send(Message::text(format!("{frame}{RS}"))).await?;
        while let Some(message) = self.stream.next().await {
            if let Message::Text(t) = message? {
                for record in t.split(RS).filter(|r| !r.is_empty()) {
                    let v: Value = serde_json::from_str(record)?;
                    if v["type"] == 3 && v["invocationId"] == id.as_str() {
                        if let Some(e) = v.get("error") {
                            bail!("{target} failed: {e}");
                        }
                        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
                    }
                }
            }
        }
        bail!("the connection closed before {target} completed")
    }

    /// Splits the client into its incoming frames and a task that pings the server every ten
    /// seconds, as real clients do (the server closes clients silent for 30 s). Dropping the
    /// returned guard stops the pings and closes the socket.
    pub fn keep_alive(self) -> (SplitStream<Socket>, KeepAlive) {
        let mut sink = self.sink;
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
            every.tick().await;
            loop {
                every.tick().await;
                if sink.send(Message::text(format!("{{\"type\":6}}{RS}"))).await.is_err() {
                    return;
                }
            }
        });
        (self.stream, KeepAlive(task))
    }
}

pub struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}
