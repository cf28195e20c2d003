//! Hub fan-out: one conversation, K chat-hub connections joined to it, one sender posting as
//! fast as its acks come back. Every message carries its send time; receivers compute
//! send-to-receive latency, and the run lasts until every subscriber has every message, so
//! deliveries per second is what the server sustained end to end (queueing included in the
//! latency). Also: resident memory per idle hub connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::http::Connection;
use crate::report::{self, FanOutArgs, FanOutLevel};
use crate::server::{BENCH_CONFIG, Server, token};
use crate::signalr::HubClient;
use crate::stats::Latencies;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    levels: FanOutArgs,
    /// Idle connections for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
}

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Reads the send time out of a MessageReceived frame without parsing the JSON.
fn sent_at(frame: &str) -> Option<u64> {
    let start = frame.find("\"plainTextContent\":\"t=")? + "\"plainTextContent\":\"t=".len();
    let digits: String = frame[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub fn raise_fd_limit() {
    // SAFETY: plain libc calls on a stack value.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

pub async fn run(Args { levels: args, idle }: Args) -> anyhow::Result<()> {
    raise_fd_limit();
    let binary = args.server_bin.unwrap_or_else(crate::default_server_binary);
    let mut levels = Vec::new();
    for &k in &args.subscribers {
        let server = Server::start_with_config(&binary, BENCH_CONFIG, &[]).await?;
        levels.push(fan_out(&server.base, k, Duration::from_secs(args.seconds)).await?);
        server.stop().await;
    }
    let levels_json = report::fan_out_levels(
        &format!(
            "SignalR fan-out: one conversation, K WebSocket subscribers, one sender ({} s)",
            args.seconds
        ),
        &levels,
    );
    let idle = if idle > 0 {
        let server = Server::start_with_config(&binary, "", &[]).await?;
        let per = idle_memory(&server, idle).await?;
        server.stop().await;
        println!(
            "\nIdle hub connections: {} connections, {:.1} KiB resident per connection",
            idle,
            per / 1024.0
        );
        Some(per)
    } else {
        None
    };
    let results = json!({
        "scenario": "hub-fanout",
        "secondsPerLevel": args.seconds,
        "machine": report::machine(),
        "levels": levels_json,
        "idle": idle.map(|b| json!({"connections": idle, "bytesPerConnection": b})),
    });
    let path = report::save("hub-fanout", &results)?;
    println!("\nsaved {}", path.display());
    Ok(())
}

async fn fan_out(base: &str, k: usize, duration: Duration) -> anyhow::Result<FanOutLevel> {
    let mut http = Connection::open(base).await?;
    let sender = token("sender");
    http.expect(
        200,
        "POST",
        "/api/participants",
        &sender,
        Some(&json!({"id": "sender", "uniqueName": "sender", "fullName": "Sender"})),
    )
    .await?;
    let ids: Vec<String> = (0..k).map(|i| format!("sub-{i}")).collect();
    for id in &ids {
        let t = token(id);
        http.expect(
            200,
            "POST",
            "/api/participants",
            &t,
            Some(&json!({"id": id, "uniqueName": id, "fullName": id})),
        )
        .await?;
    }
    let conversation = http
        .expect(201, "POST", "/api/conversations", &sender, Some(&json!({"participantIds": ids})))
        .await?;
    let conversation = conversation["id"].as_str().unwrap_or_default().to_owned();

    // Connect and join, a few hundred at a time.
    let connecting = Instant::now();
    let mut clients = Vec::with_capacity(k);
    for chunk in ids.chunks(200) {
        let joins = chunk.iter().map(|id| {
            let (base, conversation) = (base.to_owned(), conversation.clone());
            let t = token(id);
            async move {
                let mut c = HubClient::connect(&base, "chat", &t).await?;
                c.invoke("JoinConversation", json!([conversation])).await?;
                // Keep alive from now on: connecting thousands takes longer than the client timeout.
                Ok::<_, anyhow::Error>(c.keep_alive())
            }
        });
        for c in futures_util::future::join_all(joins).await {
            clients.push(c?);
        }
    }

    eprintln!("{k} subscribers connected and joined in {:.1} s", connecting.elapsed().as_secs_f64());
    let deliveries = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    // Readers stop once they have every message the sender sent (known when it is done), or
    // after ten quiet seconds.
    let total_sent = Arc::new(AtomicU64::new(u64::MAX));
    let last_delivery = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut readers = Vec::new();
    for (mut stream, keep_alive) in clients {
        let (deliveries, latencies, total_sent, last_delivery) =
            (deliveries.clone(), latencies.clone(), total_sent.clone(), last_delivery.clone());
        readers.push(tokio::spawn(async move {
            let mut mine = Latencies::default();
            let mut count = 0u64;
            while count < total_sent.load(Ordering::Acquire) {
                let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
                let Ok(Some(Ok(message))) = next else { break };
                if let Message::Text(t) = message {
                    for record in t.split('\u{1e}') {
                        if let Some(sent) = sent_at(record) {
                            mine.record(Duration::from_micros(now_micros().saturating_sub(sent)));
                            count += 1;
                            deliveries.fetch_add(1, Ordering::Relaxed);
                            last_delivery.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                        }
                    }
                }
            }
            latencies.lock().await.merge(mine);
            drop(keep_alive);
        }));
    }

    let mut hub = HubClient::connect(base, "chat", &sender).await?;
    let mut sends = 0u64;
    while started.elapsed() < duration {
        let text = format!("t={}", now_micros());
        let ack = hub
            .invoke("SendMessage", json!([{"conversationId": conversation, "blocks": [{"$type": "text", "format": "Plain", "content": text}]}]))
            .await?;
        if ack["success"] != true {
            anyhow::bail!("send failed: {ack}");
        }
        sends += 1;
    }
    total_sent.store(sends, Ordering::Release);
    for r in readers {
        let _ = r.await;
    }
    let delivered = deliveries.load(Ordering::Relaxed);
    let elapsed = Duration::from_micros(last_delivery.load(Ordering::Relaxed)).max(Duration::from_millis(1));
    let mut all = Arc::try_unwrap(latencies).map(Mutex::into_inner).unwrap_or_default();
    Ok(FanOutLevel {
        subscribers: k,
        sends,
        deliveries: delivered,
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        p50: all.percentile_ms(50.0),
        p99: all.percentile_ms(99.0),
    })
}

fn rss_bytes(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    Ok(kib * 1024.0)
}

/// Resident bytes per connection: RSS with `n` idle connections minus RSS before, over `n`.
async fn idle_memory(server: &Server, n: usize) -> anyhow::Result<f64> {
    let t = token("idle");
    // Warm the server up (allocator arenas, caches) before the baseline.
    let warm = HubClient::connect(&server.base, "notifications", &t).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_bytes(server.pid())?;
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n.div_ceil(250) {
        let batch =
            (0..250.min(n - clients.len())).map(|_| HubClient::connect(&server.base, "notifications", &t));
        for c in futures_util::future::join_all(batch).await {
            clients.push(c?.keep_alive());
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_bytes(server.pid())?;
    let still_open = count_open(&mut clients);
    if still_open < n {
        anyhow::bail!("only {still_open} of {n} idle connections are still open");
    }
    drop(clients);
    drop(warm);
    Ok((after - before).max(0.0) / n as f64)
}

/// How many of the clients' sockets are still open (frames still arriving, or none yet).
fn count_open<K>(clients: &mut [(futures_util::stream::SplitStream<crate::ws::Socket>, K)]) -> usize {
    use futures_util::FutureExt;
    let mut open = 0;
    for (stream, _) in clients.iter_mut() {
        let alive = loop {
            match stream.next().now_or_never() {
                None => break true,
                Some(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => break false,
                Some(Some(Ok(_))) => continue,
            }
        };
        open += usize::from(alive);
    }
    open
}
