//! Support-desk fan-out: one ticket, K admin sockets on `/support` joined to its room
//! (`SUPPORT_TICKET_{id}`), one admin sending `SEND_MESSAGE` as fast as its own NEW_MESSAGE
//! comes back (it arrives in the sender's room by the same broadcast). Each message carries its
//! send time; receivers compute send-to-receive latency, and the run lasts until every subscriber
//! has every message, so deliveries per second is what the server sustained end to end
//! (queueing included in the latency). Mirrors `hub_fanout`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::sync::Mutex;

use crate::report::{self, FanOutArgs, FanOutLevel};
use crate::server::{SECRET, Server};
use crate::socketio::{Incoming, SocketIoClient};
use crate::stats::Latencies;

pub type Args = FanOutArgs;

const NAMESPACE: &str = "/support";

fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

fn token(sub: &str, role: &str) -> String {
    let claims = json!({"sub": sub, "role": role, "tenant": "default", "name": sub, "exp": 4_000_000_000i64});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signing a benchmark token")
}

/// Reads the send time out of a NEW_MESSAGE frame without parsing the JSON.
fn sent_at(event: &str) -> Option<u64> {
    if !event.starts_with("[\"NEW_MESSAGE\"") {
        return None;
    }
    let start = event.find("\"message\":\"t=")? + "\"message\":\"t=".len();
    let digits: String = event[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    crate::hub_fanout::raise_fd_limit();
    let binary = args.server_bin.unwrap_or_else(crate::default_server_binary);
    let mut levels = Vec::new();
    for &k in &args.subscribers {
        let server = Server::start_with_config(&binary, "", &[]).await?;
        levels.push(fan_out(&server.base, k, Duration::from_secs(args.seconds)).await?);
        server.stop().await;
    }
    let levels_json = report::fan_out_levels(
        &format!(
            "Support desk fan-out: one ticket room on /support, K Socket.IO WebSocket subscribers, one sender ({} s)",
            args.seconds
        ),
        &levels,
    );
    let results = json!({
        "scenario": "support-fanout",
        "secondsPerLevel": args.seconds,
        "machine": report::machine(),
        "levels": levels_json,
    });
    let path = report::save("support-fanout", &results)?;
    println!("\nsaved {}", path.display());
    Ok(())
}

async fn fan_out(base: &str, k: usize, duration: Duration) -> anyhow::Result<FanOutLevel> {
    // The ticket, opened by its requester.
    let mut requester = SocketIoClient::connect(base, NAMESPACE, Some(&token("requester", "user"))).await?;
    requester
        .emit(
            "CREATE_TICKET",
            &json!({"title": "Benchmark", "category": "TECHNICAL", "message": "fan-out", "priority": "HIGH"}),
        )
        .await?;
    let ticket = requester.next_event("NEW_TICKET").await?;
    let ticket_id = ticket["id"].as_str().unwrap_or_default().to_owned();
    // The requester hears of every message too; it keeps reading so its queue never fills.
    let requester = tokio::spawn(async move { while requester.next().await.is_ok() {} });

    let deliveries = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    // Readers stop once they have every message the sender sent (known when it is done), or
    // after ten quiet seconds.
    let total_sent = Arc::new(AtomicU64::new(u64::MAX));
    let last_delivery = Arc::new(AtomicU64::new(0));
    let started = Arc::new(std::sync::OnceLock::<Instant>::new());

    // Connect and join, a few hundred at a time; each subscriber reads (and answers pings) from
    // the moment it has joined, since connecting thousands takes longer than the ping timeout.
    let connecting = Instant::now();
    let mut readers = Vec::with_capacity(k);
    let ids: Vec<String> = (0..k).map(|i| format!("admin-{i}")).collect();
    for chunk in ids.chunks(200) {
        let joins = chunk.iter().map(|id| {
            let (base, ticket_id, t) = (base.to_owned(), ticket_id.clone(), token(id, "admin"));
            async move {
                let mut c = SocketIoClient::connect(&base, NAMESPACE, Some(&t)).await?;
                c.next_event("TICKET_LIST").await?;
                c.emit("JOIN_ROOM", &json!({"ticketId": ticket_id})).await?;
                c.next_event("TICKET_LIST").await?;
                Ok::<_, anyhow::Error>(c)
            }
        });
        for c in futures_util::future::join_all(joins).await {
            let mut client = c?;
            let (deliveries, latencies, total_sent, last_delivery, started) = (
                deliveries.clone(),
                latencies.clone(),
                total_sent.clone(),
                last_delivery.clone(),
                started.clone(),
            );
            readers.push(tokio::spawn(async move {
                let mut mine = Latencies::default();
                let mut count = 0u64;
                while count < total_sent.load(Ordering::Acquire) {
                    let next = tokio::time::timeout(Duration::from_secs(10), client.next()).await;
                    let Ok(Ok(incoming)) = next else {
                        if started.get().is_some() {
                            break;
                        }
                        continue;
                    };
                    if let Incoming::Event(e) = incoming
                        && let Some(sent) = sent_at(&e)
                    {
                        mine.record(Duration::from_micros(now_micros().saturating_sub(sent)));
                        count += 1;
                        deliveries.fetch_add(1, Ordering::Relaxed);
                        if let Some(at) = started.get() {
                            last_delivery.fetch_max(at.elapsed().as_micros() as u64, Ordering::Relaxed);
                        }
                    }
                }
                latencies.lock().await.merge(mine);
            }));
        }
    }
    eprintln!("{k} subscribers connected and joined in {:.1} s", connecting.elapsed().as_secs_f64());

    let mut sender = SocketIoClient::connect(base, NAMESPACE, Some(&token("sender", "admin"))).await?;
    sender.next_event("TICKET_LIST").await?;
    let start = *started.get_or_init(Instant::now);
    let mut sends = 0u64;
    while start.elapsed() < duration {
        let text = format!("t={}", now_micros());
        sender.emit("SEND_MESSAGE", &json!({"ticketId": ticket_id, "message": text})).await?;
        // The sender's own NEW_MESSAGE is its acknowledgement.
        loop {
            match sender.next().await? {
                Incoming::Event(e) if e.starts_with("[\"ERROR\"") => anyhow::bail!("send failed: {e}"),
                Incoming::Event(e) if e.contains(&format!("\"message\":\"{text}\"")) => break,
                _ => {}
            }
        }
        sends += 1;
    }
    total_sent.store(sends, Ordering::Release);
    for r in readers {
        let _ = r.await;
    }
    requester.abort();
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
