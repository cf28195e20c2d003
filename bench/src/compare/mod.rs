//! `compare`: chatgate side by side with the Node socket.io server (the reference peer) and a
//! bare WebSocket broadcaster (the raw limit), in one run, on one machine:
//!
//! - **broadcast**: one room of K receivers and a few senders at rising rates; the highest rate
//!   whose deliveries all arrive (within a second of the step, p99 under 500 ms) gives the
//!   maximum sustained deliveries per second; then latency at half that rate.
//! - **rooms**: many rooms of two, both sides sending at a steady rate.
//! - **idle**: resident memory per connection with many idle connections.
//! - **ack**: chatgate's send-to-acknowledgement latency with durable commits.
//!
//! Every message carries its send time; receivers record the latency in lock-free histograms,
//! one per step, so that a late delivery never pollutes the next step.

mod conn;
mod histogram;
mod targets;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::report;
use conn::{Conn, Sink, keep_alive, marker, now_micros, read_all};
use histogram::Histogram;
use targets::{Bins, FrameFn, Kind, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Receivers in the broadcast room.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Connections sending to the broadcast room, in turn (they are not among the receivers).
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Two-person rooms in the rooms scenario (twice as many connections).
    #[arg(long, default_value_t = 5000)]
    pairs: usize,
    /// Messages per second each connection sends in the rooms scenario.
    #[arg(long, default_value_t = 0.2)]
    pair_rate: f64,
    /// Idle connections in the idle scenario.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Seconds of sending per broadcast step (and for the other timed phases).
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Which scenarios to run.
    #[arg(long, value_delimiter = ',', default_value = "broadcast,rooms,idle,ack")]
    scenarios: Vec<String>,
    /// Which servers to run them on: socketio (chatgate's /support), signalr (chatgate's chat
    /// hub), node (the Node socket.io peer), raw (the raw WebSocket peer).
    #[arg(long, value_delimiter = ',', default_value = "socketio,signalr,node,raw")]
    targets: Vec<String>,
}

/// Send rates of the broadcast steps: from 25/s up by a quarter of a doubling each (about 19%),
/// so the maximum found is within a fifth of the truth.
fn rates() -> Vec<u64> {
    (0..=36).map(|i| (25.0 * 2f64.powf(i as f64 / 4.0)).round() as u64).collect()
}

/// Sends frames at `rate` per second in all for `duration`, from each sender in turn; returns
/// how many were sent.
async fn send_at_rate(senders: &[(Sink, FrameFn)], step: usize, rate: f64, duration: Duration) -> u64 {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let mut sent = 0u64;
    while started.elapsed() < duration {
        tick.tick().await;
        let due = (rate * started.elapsed().as_secs_f64()) as u64;
        while sent < due {
            let (sink, frame) = &senders[sent as usize % senders.len()];
            let text = frame(&marker(step, usize::MAX));
            if sink.lock().await.send(Message::text(text)).await.is_err() {
                return sent;
            }
            sent += 1;
        }
    }
    sent
}

/// Waits until `want` deliveries arrived in `h`, or nothing more arrives for `quiet`, or 30 s
/// passed (a server far behind would otherwise keep the run going for as long as it trickles).
async fn drain(h: &Histogram, want: u64, quiet: Duration) -> u64 {
    let mut last = h.count();
    let mut last_change = Instant::now();
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = h.count();
        if now >= want || started.elapsed() >= Duration::from_secs(30) {
            return now;
        }
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= quiet {
            return now;
        }
    }
}

/// Starts a reader for each connection, recording into `histograms[step]`.
fn spawn_readers(
    conns: Vec<Conn>,
    histograms: Arc<Vec<Histogram>>,
    alive: Arc<AtomicUsize>,
    me: Option<Vec<usize>>,
) {
    for (i, conn) in conns.into_iter().enumerate() {
        let (histograms, alive) = (histograms.clone(), alive.clone());
        let own = me.as_ref().map(|m| m[i]);
        let pinger = keep_alive(&conn);
        alive.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            read_all(conn, |d| {
                if Some(d.from) == own {
                    return; // a conversation echoing the sender's own message
                }
                if let Some(h) = histograms.get(d.step) {
                    h.record(now_micros().saturating_sub(d.sent_at));
                }
            })
            .await;
            alive.fetch_sub(1, Ordering::Relaxed);
            if let Some(p) = pinger {
                p.abort();
            }
        });
    }
}

#[derive(Clone)]
struct Broadcast {
    max_deliveries_per_second: f64,
    at_rate: u64,
    half_rate: u64,
    p50: f64,
    p99: f64,
    p999: f64,
    /// Server CPU time per delivery at half the best rate, in microseconds.
    cpu_us: f64,
    steps: Vec<Value>,
}

async fn broadcast(kind: Kind, bins: &Bins, args: &Args) -> anyhow::Result<Broadcast> {
    let target = Target::start(kind, bins).await?;
    let k = args.subscribers;
    let (receivers, senders) = targets::broadcast_room(&target, "bench", k, args.senders).await?;
    let rates = rates();
    // One histogram per step, and the last for the run at half the best rate.
    let half = rates.len();
    let histograms: Arc<Vec<Histogram>> = Arc::new((0..=half).map(|_| Histogram::default()).collect());
    let alive = Arc::new(AtomicUsize::new(0));
    spawn_readers(receivers, histograms.clone(), alive.clone(), None);
    let mut sending = Vec::with_capacity(senders.len());
    let mut pingers = Vec::new();
    for sender in senders {
        sending.push((sender.conn.sink.clone(), sender.frame));
        pingers.extend(keep_alive(&sender.conn));
        tokio::spawn(read_all(sender.conn, |_| {}));
    }
    let duration = Duration::from_secs(args.seconds);
    let mut result = Broadcast { max_deliveries_per_second: 0.0, ..Broadcast::default() };
    for (step, rate) in rates.iter().enumerate() {
        let started = Instant::now();
        let cpu = target.cpu_seconds();
        let own_cpu = targets::cpu_seconds_of(std::process::id());
        let sent = send_at_rate(&sending, step, *rate as f64, duration).await;
        let sending = started.elapsed();
        let want = sent * k as u64;
        let delivered = drain(&histograms[step], want, Duration::from_secs(1)).await;
        let cpu_us = (target.cpu_seconds() - cpu) * 1e6 / delivered.max(1) as f64;
        let own_cpu_us =
            (targets::cpu_seconds_of(std::process::id()) - own_cpu) * 1e6 / delivered.max(1) as f64;
        let h = &histograms[step];
        let per_second = delivered as f64 / sending.as_secs_f64();
        let sustained = delivered as f64 >= 0.99 * want as f64
            && h.percentile_ms(99.0) <= 500.0
            && sent as f64 >= 0.9 * *rate as f64 * duration.as_secs_f64();
        eprintln!(
            "  {} rate {rate}/s: sent {sent}, delivered {delivered}/{want}, p99 {:.1} ms, server CPU {cpu_us:.2} µs/delivery, load generator {own_cpu_us:.2}{}",
            kind.label(),
            h.percentile_ms(99.0),
            if sustained { "" } else { " — not sustained" }
        );
        result.steps.push(json!({
            "rate": rate, "sent": sent, "delivered": delivered, "expected": want,
            "deliveriesPerSecond": per_second, "p50Ms": h.percentile_ms(50.0), "p99Ms": h.percentile_ms(99.0),
            "serverCpuMicrosPerDelivery": cpu_us, "loadCpuMicrosPerDelivery": own_cpu_us,
            "sustained": sustained,
        }));
        if !sustained {
            break;
        }
        result.max_deliveries_per_second = per_second;
        result.at_rate = *rate;
    }
    // Let any backlog of the last step clear before measuring latency at half the best rate.
    drain(&histograms[half], u64::MAX, Duration::from_secs(2)).await;
    result.half_rate = (result.at_rate / 2).max(1);
    let cpu = target.cpu_seconds();
    let sent = send_at_rate(&sending, half, result.half_rate as f64, duration * 2).await;
    let delivered = drain(&histograms[half], sent * k as u64, Duration::from_secs(2)).await;
    result.cpu_us = (target.cpu_seconds() - cpu) * 1e6 / delivered.max(1) as f64;
    let h = &histograms[half];
    (result.p50, result.p99, result.p999) =
        (h.percentile_ms(50.0), h.percentile_ms(99.0), h.percentile_ms(99.9));
    pingers.iter().for_each(|p| p.abort());
    target.stop().await;
    Ok(result)
}

#[derive(Clone)]
struct Rooms {
    sent: u64,
    delivered: u64,
    per_second: f64,
    p50: f64,
    p99: f64,
}

/// A target not run shows as "—".
impl Default for Broadcast {
    fn default() -> Self {
        let nan = f64::NAN;
        Broadcast {
            max_deliveries_per_second: nan,
            at_rate: 0,
            half_rate: 0,
            p50: nan,
            p99: nan,
            p999: nan,
            cpu_us: nan,
            steps: vec![],
        }
    }
}

impl Default for Rooms {
    fn default() -> Self {
        Rooms { sent: 0, delivered: 0, per_second: f64::NAN, p50: f64::NAN, p99: f64::NAN }
    }
}

async fn rooms(kind: Kind, bins: &Bins, args: &Args) -> anyhow::Result<Rooms> {
    let target = Target::start(kind, bins).await?;
    let pairs = targets::pair_rooms(&target, args.pairs).await?;
    let histograms: Arc<Vec<Histogram>> = Arc::new(vec![Histogram::default()]);
    let alive = Arc::new(AtomicUsize::new(0));
    let mut senders: Vec<(Sink, FrameFn, usize)> = Vec::new();
    let mut conns = Vec::new();
    let mut owners = Vec::new();
    for (i, (a, b)) in pairs.into_iter().enumerate() {
        for (j, s) in [a, b].into_iter().enumerate() {
            let id = 2 * i + j;
            senders.push((s.conn.sink.clone(), s.frame, id));
            conns.push(s.conn);
            owners.push(id);
        }
    }
    spawn_readers(conns, histograms.clone(), alive.clone(), Some(owners));
    // One scheduler walks the connections in turn, at the total rate.
    let total_rate = args.pair_rate * senders.len() as f64;
    let duration = Duration::from_secs(args.seconds * 3);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    let (mut sent, mut next) = (0u64, 0usize);
    while started.elapsed() < duration {
        tick.tick().await;
        let due = (total_rate * started.elapsed().as_secs_f64()) as u64;
        while sent < due {
            let (sink, frame, id) = &senders[next % senders.len()];
            next += 1;
            let text = frame(&marker(0, *id));
            let _ = sink.lock().await.send(Message::text(text)).await;
            sent += 1;
        }
    }
    let delivered = drain(&histograms[0], sent, Duration::from_secs(2)).await;
    // Until the last delivery: a server that falls behind delivers fewer per second than offered.
    let delivering = started.elapsed();
    let h = &histograms[0];
    let result = Rooms {
        sent,
        delivered,
        per_second: delivered as f64 / delivering.as_secs_f64(),
        p50: h.percentile_ms(50.0),
        p99: h.percentile_ms(99.0),
    };
    target.stop().await;
    Ok(result)
}

/// Resident bytes per idle connection, and whether they all stayed open.
async fn idle(kind: Kind, bins: &Bins, args: &Args) -> anyhow::Result<f64> {
    let target = Target::start(kind, bins).await?;
    let warm = targets::idle(&target, 10).await?;
    let alive = Arc::new(AtomicUsize::new(0));
    let histograms = Arc::new(vec![Histogram::default()]);
    spawn_readers(warm, histograms.clone(), alive.clone(), None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = target.rss_bytes()?;
    let conns = targets::idle(&target, args.idle).await?;
    spawn_readers(conns, histograms, alive.clone(), None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = target.rss_bytes()?;
    let open = alive.load(Ordering::Relaxed);
    if open < args.idle {
        anyhow::bail!("{}: only {open} of {} idle connections stayed open", kind.label(), args.idle + 10);
    }
    target.stop().await;
    Ok((after - before).max(0.0) / args.idle as f64)
}

/// chatgate's SendMessage acknowledgement latency over SignalR (one client, one at a time,
/// `synchronous=FULL`).
async fn ack(bins: &Bins, args: &Args) -> anyhow::Result<(u64, f64, f64, f64)> {
    let target = Target::start(Kind::ChatgateSignalR, bins).await?;
    let (_receivers, _) = targets::broadcast_room(&target, "ack", 1, 1).await?;
    let who = "ack-sender".to_owned();
    let mut hub =
        crate::signalr::HubClient::connect(&target.base, "chat", &crate::server::token(&who)).await?;
    let mut http = crate::http::Connection::open(&target.base).await?;
    let id = http
        .expect(
            201,
            "POST",
            "/api/conversations",
            &crate::server::token(&who),
            Some(&json!({"participantIds": []})),
        )
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let h = Histogram::default();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(args.seconds * 2) {
        let t = Instant::now();
        let ack = hub
            .invoke("SendMessage", json!([{"conversationId": id, "blocks": [{"$type": "text", "format": "Plain", "content": "ack"}]}]))
            .await?;
        if ack["success"] != true {
            anyhow::bail!("send failed: {ack}");
        }
        h.record(t.elapsed().as_micros() as u64);
        n += 1;
    }
    target.stop().await;
    Ok((n, h.percentile_ms(50.0), h.percentile_ms(99.0), h.percentile_ms(99.9)))
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 { format!("{:.2}×", a / b) } else { "—".into() }
}

/// A row of the table: the four targets' figures, then chatgate's Socket.IO over Node and over
/// the raw limit.
fn target_row(label: String, [sio, hub, node, raw]: [f64; 4], show: fn(f64) -> String) -> Vec<String> {
    vec![label, show(sio), show(hub), show(node), show(raw), ratio(sio, node), ratio(sio, raw)]
}

fn one_place(v: f64) -> String {
    if v.is_finite() { format!("{v:.1}") } else { "—".into() }
}

fn count(v: f64) -> String {
    if v.is_finite() { format!("{v:.0}") } else { "—".into() }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    crate::hub_fanout::raise_fd_limit();
    let bins = targets::default_bins();
    for (what, path) in [("chatgate", &bins.chatgate), ("raw-peer", &bins.raw_peer)] {
        if !path.exists() {
            anyhow::bail!("{what} is not built at {}; run bench/run.sh compare", path.display());
        }
    }
    if !bins.node_peer.join("node_modules").exists() {
        anyhow::bail!("the Node peer is not installed: (cd bench/peers/socketio-node && npm ci)");
    }
    let wants = |s: &str| args.scenarios.iter().any(|x| x == s);
    let mut kinds = Vec::new();
    for name in &args.targets {
        kinds.push(
            Kind::named(name)
                .ok_or_else(|| anyhow::anyhow!("unknown target {name:?}: socketio, signalr, node or raw"))?,
        );
    }
    let mut results = serde_json::Map::new();
    results.insert("machine".into(), report::machine());
    let mut rows: Vec<Vec<String>> = Vec::new();

    if wants("broadcast") {
        eprintln!("broadcast: one room of {} receivers, rising send rates", args.subscribers);
        let mut found = Vec::new();
        for &kind in &kinds {
            found.push((kind, broadcast(kind, &bins, &args).await?));
        }
        let get =
            |k: Kind| found.iter().find(|(kind, _)| *kind == k).map(|(_, r)| r.clone()).unwrap_or_default();
        let (sio, hub, node, raw) = (
            get(Kind::ChatgateSocketIo),
            get(Kind::ChatgateSignalR),
            get(Kind::NodeSocketIo),
            get(Kind::Raw),
        );
        let max = |r: &Broadcast| r.max_deliveries_per_second;
        rows.push(target_row(
            format!("broadcast, {} receivers: max sustained deliveries/s", args.subscribers),
            [max(&sio), max(&hub), max(&node), max(&raw)],
            count,
        ));
        for (label, pick) in [
            ("latency p50 ms", 0),
            ("latency p99 ms", 1),
            ("latency p999 ms", 2),
            ("server CPU µs per delivery", 3),
        ] {
            let v = |r: &Broadcast| [r.p50, r.p99, r.p999, r.cpu_us][pick];
            rows.push(target_row(
                format!("broadcast at half the max rate: {label}"),
                [v(&sio), v(&hub), v(&node), v(&raw)],
                one_place,
            ));
        }
        results.insert(
            "broadcast".into(),
            json!(
                found
                    .iter()
                    .map(|(k, r)| json!({
                        "target": k.label(), "receivers": args.subscribers,
                        "maxDeliveriesPerSecond": r.max_deliveries_per_second, "atSendRate": r.at_rate,
                        "halfRate": r.half_rate, "p50Ms": r.p50, "p99Ms": r.p99, "p999Ms": r.p999,
                        "serverCpuMicrosPerDelivery": r.cpu_us, "steps": r.steps,
                    }))
                    .collect::<Vec<_>>()
            ),
        );
    }

    if wants("rooms") {
        eprintln!("rooms: {} rooms of two, {} messages/s per connection", args.pairs, args.pair_rate);
        let mut found = Vec::new();
        for &kind in &kinds {
            let r = rooms(kind, &bins, &args).await?;
            eprintln!("  {}: sent {}, delivered {}, p99 {:.1} ms", kind.label(), r.sent, r.delivered, r.p99);
            found.push((kind, r));
        }
        let get =
            |k: Kind| found.iter().find(|(kind, _)| *kind == k).map(|(_, r)| r.clone()).unwrap_or_default();
        let (sio, hub, node, raw) = (
            get(Kind::ChatgateSocketIo),
            get(Kind::ChatgateSignalR),
            get(Kind::NodeSocketIo),
            get(Kind::Raw),
        );
        let offered = args.pair_rate * args.pairs as f64 * 2.0;
        for (label, pick) in [
            (format!("deliveries/s (offered {offered:.0}/s)"), 0),
            ("latency p50 ms".into(), 1),
            ("latency p99 ms".into(), 2),
        ] {
            let v = |r: &Rooms| [r.per_second, r.p50, r.p99][pick];
            rows.push(target_row(
                format!("{} rooms of two: {label}", args.pairs),
                [v(&sio), v(&hub), v(&node), v(&raw)],
                if pick == 0 { count } else { one_place },
            ));
        }
        results.insert(
            "rooms".into(),
            json!(
                found
                    .iter()
                    .map(|(k, r)| json!({
                        "target": k.label(), "pairs": args.pairs, "ratePerConnection": args.pair_rate,
                        "sent": r.sent, "delivered": r.delivered, "deliveriesPerSecond": r.per_second,
                        "p50Ms": r.p50, "p99Ms": r.p99,
                    }))
                    .collect::<Vec<_>>()
            ),
        );
    }

    if wants("idle") {
        eprintln!("idle: {} connections", args.idle);
        let mut found = Vec::new();
        for &kind in &kinds {
            let bytes = idle(kind, &bins, &args).await?;
            eprintln!("  {}: {:.1} KiB per connection", kind.label(), bytes / 1024.0);
            found.push((kind, bytes));
        }
        let get =
            |k: Kind| found.iter().find(|(kind, _)| *kind == k).map(|(_, b)| *b / 1024.0).unwrap_or(f64::NAN);
        rows.push(target_row(
            format!("{} idle connections: KiB resident per connection", args.idle),
            [
                get(Kind::ChatgateSocketIo),
                get(Kind::ChatgateSignalR),
                get(Kind::NodeSocketIo),
                get(Kind::Raw),
            ],
            one_place,
        ));
        results.insert(
            "idle".into(),
            json!(found.iter().map(|(k, b)| json!({"target": k.label(), "connections": args.idle, "bytesPerConnection": b})).collect::<Vec<_>>()),
        );
    }

    if wants("ack") && kinds.contains(&Kind::ChatgateSignalR) {
        let (n, p50, p99, p999) = ack(&bins, &args).await?;
        rows.push(vec![
            format!("send → ack, SignalR, durable commit: p50 / p99 / p999 ms ({n} sends)"),
            "—".into(),
            format!("{} / {} / {}", one_place(p50), one_place(p99), one_place(p999)),
            "—".into(),
            "—".into(),
            "—".into(),
            "—".into(),
        ]);
        results.insert("ack".into(), json!({"sends": n, "p50Ms": p50, "p99Ms": p99, "p999Ms": p999}));
    }

    report::print_table(
        "chatgate side by side with the Node socket.io server and the raw WebSocket limit",
        &[
            "measure",
            "chatgate Socket.IO",
            "chatgate SignalR",
            "Node socket.io",
            "raw WebSocket",
            "chatgate/Node",
            "chatgate/raw",
        ],
        &rows,
    );
    // A run of some scenarios or some servers does not replace the full table's figures.
    let full = ["broadcast", "rooms", "idle", "ack"].iter().all(|s| wants(s))
        && ["socketio", "signalr", "node", "raw"].iter().all(|t| args.targets.iter().any(|x| x == t));
    let name = if full { "compare" } else { "compare-partial" };
    let path = report::save(name, &Value::Object(results))?;
    println!("\nsaved {}", path.display());
    Ok(())
}
