//! REST send: N clients, each on its own keep-alive connection, post messages as fast as their
//! answers come back. Two shapes: every client in one shared conversation (sends serialize on
//! that conversation), and every client in its own conversation (they contend only for the
//! store). Figures: acknowledged sends per second, and latency p50/p99 per send.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::http::Connection;
use crate::report;
use crate::server::{Server, token};
use crate::stats::Latencies;

#[derive(clap::Args)]
pub struct Args {
    /// The chatgate binary to start [default: next to this benchmark's binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Concurrency levels (clients sending at once).
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    concurrency: Vec<usize>,
    /// Seconds of measurement per level (after a one-second warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// SQLite durability of the server under test (full or normal).
    #[arg(long, default_value = "full")]
    durability: String,
}

struct Level {
    shape: &'static str,
    clients: usize,
    sends_per_second: f64,
    p50: f64,
    p99: f64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let binary = args.server_bin.unwrap_or_else(crate::default_server_binary);
    let server = Server::start(&binary, &["--sqlite-durability", &args.durability]).await?;
    let mut levels = Vec::new();
    for shape in ["shared", "separate"] {
        for &clients in &args.concurrency {
            levels.push(measure(&server.base, shape, clients, Duration::from_secs(args.seconds)).await?);
        }
    }
    server.stop().await;

    let rows: Vec<Vec<String>> = levels
        .iter()
        .map(|l| {
            vec![
                l.shape.to_owned(),
                l.clients.to_string(),
                format!("{:.0}", l.sends_per_second),
                format!("{:.2}", l.p50),
                format!("{:.2}", l.p99),
            ]
        })
        .collect();
    report::print_table(
        &format!(
            "REST send, SQLite synchronous={} ({} s per level; shared = one conversation, separate = one per client)",
            args.durability.to_uppercase(),
            args.seconds
        ),
        &["conversations", "clients", "sends/s", "p50 ms", "p99 ms"],
        &rows,
    );
    let results = json!({
        "scenario": "rest-send",
        "durability": args.durability,
        "secondsPerLevel": args.seconds,
        "machine": report::machine(),
        "levels": levels.iter().map(|l| json!({
            "conversations": l.shape, "clients": l.clients,
            "sendsPerSecond": l.sends_per_second, "p50Ms": l.p50, "p99Ms": l.p99,
        })).collect::<Vec<_>>(),
    });
    // A run of other levels or durability does not replace the default run's figures.
    let default_run = args.concurrency == [1, 8, 32, 128] && args.durability == "full";
    let path = report::save(if default_run { "rest-send" } else { "rest-send-partial" }, &results)?;
    println!("\nsaved {}", path.display());
    Ok(())
}

async fn measure(
    base: &str,
    shape: &'static str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Level> {
    // Set up: participants and conversations over one connection.
    let mut setup = Connection::open(base).await?;
    let owner = token("bench-owner");
    let mut tokens = Vec::new();
    for i in 0..clients {
        let id = format!("bench-{shape}-{clients}-{i}");
        let t = token(&id);
        setup
            .expect(
                200,
                "POST",
                "/api/participants",
                &t,
                Some(&json!({"id": id, "uniqueName": id, "fullName": id})),
            )
            .await?;
        tokens.push((id, t));
    }
    let mut conversations = Vec::new();
    if shape == "shared" {
        let ids: Vec<&str> = tokens.iter().map(|(id, _)| id.as_str()).collect();
        let c = setup
            .expect(201, "POST", "/api/conversations", &owner, Some(&json!({"participantIds": ids})))
            .await?;
        conversations = vec![c["id"].as_str().unwrap_or_default().to_owned(); clients];
    } else {
        for (id, _) in &tokens {
            let c = setup
                .expect(201, "POST", "/api/conversations", &owner, Some(&json!({"participantIds": [id]})))
                .await?;
            conversations.push(c["id"].as_str().unwrap_or_default().to_owned());
        }
    }

    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + duration;
    let mut tasks = Vec::new();
    for ((_, t), conversation) in tokens.into_iter().zip(conversations) {
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(&base).await?;
            let path = format!("/api/conversations/{conversation}/messages");
            let mut latencies = Latencies::default();
            let mut n = 0u64;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                n += 1;
                let body = json!({"blocks": [{"$type": "text", "format": "Plain", "content": format!("message {n}")}]});
                let (status, bytes) = connection.call("POST", &path, &t, Some(&body)).await?;
                if status != 201 {
                    anyhow::bail!("send answered {status}: {}", String::from_utf8_lossy(&bytes));
                }
                if started >= warmup {
                    latencies.record(started.elapsed());
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Latencies::default();
    for task in tasks {
        all.merge(task.await??);
    }
    Ok(Level {
        shape,
        clients,
        sends_per_second: all.count() as f64 / duration.as_secs_f64(),
        p50: all.percentile_ms(50.0),
        p99: all.percentile_ms(99.0),
    })
}
