//! Load generator: realistic Segment batches over loopback against a
//! running `cohort serve` (or one it starts in-process on a fresh store).
//!
//! ```sh
//! cargo run --release -p cohort-server --example load -- [--seconds 20] [--connections 8] [--batch 100] [--url http://127.0.0.1:8088 --key KEY]
//! ```
//!
//! Without `--url` it opens a DuckDB store in a temporary directory and
//! serves it in-process. Prints sustained events/s (acknowledged = committed),
//! p50 / p99 request latency and the process's peak RSS.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cohort_duckdb::DuckDbStore;
use cohort_model::ShopTime;
use cohort_server::{basic_auth, Server, ServerConfig};
use serde_json::{json, Value};

const EVENTS: &[&str] = &[
    "Product Viewed",
    "Product Viewed",
    "Product Viewed",
    "Products Searched",
    "Product Added",
    "Checked In",
    "Order Completed",
];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn message(conn: usize, n: u64, i: usize) -> Value {
    let user = (n as usize * 31 + i * 7 + conn) % 50_000;
    let event = EVENTS[(n as usize + i) % EVENTS.len()];
    json!({
        "type": "track",
        "messageId": format!("c{conn}-{n}-{i}"),
        "anonymousId": format!("dev-{user}"),
        "userId": if user.is_multiple_of(3) { Value::String(format!("u{user}")) } else { Value::Null },
        "event": event,
        "timestamp": "2025-03-01T10:00:00.000Z",
        "properties": {"product_id": format!("p{}", (user * 13) % 2000), "price": 19.9, "category": "零食", "quantity": 1},
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"}, "page": {"path": "/p/123"},
                    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", "locale": "zh-CN"}
    })
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = arg("--seconds").map_or(Ok(20), |s| s.parse())?;
    let connections: usize = arg("--connections").map_or(Ok(8), |s| s.parse())?;
    let batch: usize = arg("--batch").map_or(Ok(100), |s| s.parse())?;
    let key = arg("--key").unwrap_or_else(|| "wk_load".into());
    let _dir;
    let mut server = None;
    let url = match arg("--url") {
        Some(url) => url,
        None => {
            let dir = tempfile::tempdir()?;
            let store = Arc::new(DuckDbStore::open(dir.path())?);
            _dir = dir;
            let config =
                ServerConfig { listen: "127.0.0.1:0".into(), write_keys: vec![key.clone()], ..Default::default() };
            let s = Server::start(config, ShopTime::default(), store, std::future::pending()).await?;
            let url = format!("http://{}", s.addr());
            server = Some(s);
            url
        }
    };
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..connections {
        let (client, url, key, stop, events, throttled, latencies) = (
            client.clone(),
            url.clone(),
            key.clone(),
            stop.clone(),
            events.clone(),
            throttled.clone(),
            latencies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let auth = basic_auth(&key);
            let mut n = 0u64;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let body: Vec<Value> = (0..batch).map(|i| message(conn, n, i)).collect();
                let body = serde_json::to_vec(&json!({"batch": body, "sentAt": "2025-03-01T10:00:00.000Z"})).unwrap();
                let t = Instant::now();
                let r = client
                    .post(format!("{url}/v1/batch"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r.map(|r| r.status().as_u16()) {
                    Ok(200) => {
                        events.fetch_add(batch as u64, Ordering::Relaxed);
                        mine.push(t.elapsed().as_secs_f64());
                    }
                    Ok(429) => {
                        throttled.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => eprintln!("request failed: {other:?}"),
                }
                n += 1;
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let pct =
        |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or(0.0) * 1000.0;
    let total = events.load(Ordering::Relaxed);
    println!(
        "{total} events acknowledged in {elapsed:.1} s: {:.0} events/s; batch {batch}, {connections} connections; \
         request p50 {:.1} ms, p99 {:.1} ms; 429s {}; peak RSS {} MiB (this process{})",
        total as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        throttled.load(Ordering::Relaxed),
        peak_rss_kib() / 1024,
        if server.is_some() { ", server included" } else { "" },
    );
    if let Some(s) = server {
        s.shutdown().await.map_err(anyhow::Error::msg)?;
    }
    Ok(())
}
