//! chatgate's benchmarks. Not tests: they measure, print a table, and save the same figures as
//! JSON under `bench/results/`. Run them with `bench/run.sh` (release builds).
//!
//! # Layout
//! - `server`: starts a chatgate process on a free port with a fresh data directory.
//! - `http`: a keep-alive HTTP/1 client and the JSON calls the scenarios make.
//! - `stats`: latency histograms and percentiles.
//! - `signalr`: a minimal SignalR WebSocket client for load.
//! - `rest_send`: REST send throughput and latency at rising concurrency.
//! - `hub_fanout`: SignalR fan-out to K subscribers, and memory per idle hub connection.
//! - `compare`: chatgate against the Node socket.io peer (`bench/peers/socketio-node`) and the
//!   raw WebSocket limit (`src/bin/raw-peer.rs`), in one run.
//! - `socketio`: a minimal Socket.IO (Engine.IO v4 WebSocket) client for load.
//! - `support_fanout`: a `/support` ticket room broadcast to K Socket.IO subscribers.
//! - `ws`: how the load generator opens its WebSockets.

mod compare;
mod http;
mod hub_fanout;
mod report;
mod rest_send;
mod server;
mod signalr;
mod socketio;
mod stats;
mod support_fanout;
mod ws;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chatgate-bench", about = "Benchmarks for chatgate; prints tables and writes JSON results.")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// REST sends (POST /api/conversations/{id}/messages) at rising concurrency, against the
    /// embedded SQLite store: throughput and latency p50/p99.
    RestSend(rest_send::Args),
    /// SignalR fan-out: one conversation with K WebSocket subscribers and one sender
    /// (deliveries/s, send-to-receive p50/p99), and memory per idle hub connection.
    HubFanout(hub_fanout::Args),
    /// chatgate side by side with the Node socket.io server and the raw WebSocket limit:
    /// broadcast, many small rooms, idle memory, send-ack latency.
    Compare(compare::Args),
    /// Support-desk fan-out: one ticket room on `/support` with K Socket.IO WebSocket
    /// subscribers and one sender (deliveries/s, send-to-receive p50/p99).
    SupportFanout(support_fanout::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::RestSend(args) => rest_send::run(args).await,
        Scenario::HubFanout(args) => hub_fanout::run(args).await,
        Scenario::Compare(args) => compare::run(args).await,
        Scenario::SupportFanout(args) => support_fanout::run(args).await,
    }
}

/// Where the `chatgate` binary is, unless told: next to this one (both built by `bench/run.sh`).
fn default_server_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("chatgate")))
        .unwrap_or_else(|| PathBuf::from("target/release/chatgate"))
}
