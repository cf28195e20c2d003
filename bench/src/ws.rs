//! The load generator's WebSocket connections.

use anyhow::Context;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket as a load-generating client: a small read buffer (tungstenite zeroes the
/// free part of its buffer before every read: 128 KiB by default, a third of the load
/// generator's CPU, taken from the server under test) and no Nagle delay on what it sends.
pub async fn connect(url: &str) -> anyhow::Result<Socket> {
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .context("WebSocket upgrade")?;
    Ok(socket)
}
