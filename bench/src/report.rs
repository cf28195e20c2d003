//! Tables on standard output, the same figures as JSON in `bench/results/`.

use std::path::PathBuf;

use serde_json::{Value, json};

pub fn print_table(title: &str, headers: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    println!("\n{title}\n");
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    println!("|{}|", widths.iter().map(|w| format!("{:-<1$}:", "", w + 1)).collect::<Vec<_>>().join("|"));
    for row in rows {
        line(row.clone());
    }
}

/// Writes `results` to `bench/results/<name>.json` (relative to the workspace when run from it).
pub fn save(name: &str, results: &Value) -> anyhow::Result<PathBuf> {
    let dir =
        PathBuf::from(std::env::var("CHATGATE_BENCH_RESULTS").unwrap_or_else(|_| "bench/results".into()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(results)?)?;
    Ok(path)
}

/// What the figures were measured on.
pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| (kib / 1024.0 / 1024.0).round())
        .unwrap_or(0.0);
    serde_json::json!({"cpu": cpu, "cores": cores, "memoryGiB": memory_gib, "os": std::env::consts::OS})
}

/// The options every fan-out benchmark takes.
#[derive(clap::Args)]
pub struct FanOutArgs {
    /// The chatgate binary (default: the one next to this program).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Subscribers per level.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    pub subscribers: Vec<usize>,
    /// Seconds of sending per level.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
}

/// One level of a fan-out run: K subscribers, what was sent and delivered, and how fast.
pub struct FanOutLevel {
    pub subscribers: usize,
    pub sends: u64,
    pub deliveries: u64,
    pub per_second: f64,
    pub p50: f64,
    pub p99: f64,
}

/// Prints the levels of a fan-out run as a table and returns them as JSON.
pub fn fan_out_levels(title: &str, levels: &[FanOutLevel]) -> Value {
    let rows: Vec<Vec<String>> = levels
        .iter()
        .map(|l| {
            vec![
                l.subscribers.to_string(),
                l.sends.to_string(),
                l.deliveries.to_string(),
                format!("{:.0}", l.per_second),
                format!("{:.2}", l.p50),
                format!("{:.2}", l.p99),
            ]
        })
        .collect();
    print_table(title, &["subscribers", "sends", "deliveries", "deliveries/s", "p50 ms", "p99 ms"], &rows);
    levels
        .iter()
        .map(|l| {
            json!({
                "subscribers": l.subscribers, "sends": l.sends, "deliveries": l.deliveries,
                "deliveriesPerSecond": l.per_second, "p50Ms": l.p50, "p99Ms": l.p99,
            })
        })
        .collect()
}
