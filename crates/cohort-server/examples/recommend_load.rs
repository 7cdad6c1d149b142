//! Serving benchmark for `GET /v1/recommendations/{user}` over loopback:
//! loads a trained model, serves it in-process on a DuckDB store in a
//! temporary directory (every served list is recorded as an impression, as
//! in production), then
//! 1. open loop: `RATE` requests/s for `SECONDS` over `CONNECTIONS`
//!    keep-alive connections, each request's latency measured from its
//!    scheduled send time (a server that falls behind is charged for the
//!    queue, no coordinated omission);
//! 2. closed loop: the same connections flat out for `SECONDS`.
//!
//! ```sh
//! cargo run --release -p cohort-server --example recommend_load -- MODEL.json OUT.json [RATE SECONDS CONNECTIONS]
//! ```
//! `RECOMMEND_LOAD_NO_RECORD=1` serves with `record=false` (no
//! impressions), to measure what recording costs.
//!
//! Requests: 80% home for known people, 10% cart pages (one of the
//! person's home items in the cart), 10% unknown people (cold start).
//! Writes `{"runs": [{mode, requests, seconds, throughput, p50_ms, p99_ms,
//! max_ms, errors, impressions}]}` to OUT.json and prints it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cohort_duckdb::DuckDbStore;
use cohort_model::ShopTime;
use cohort_recommend::Recommender;
use cohort_server::{basic_auth, Server, ServerConfig, Services};
use serde_json::{json, Value};

const KEY: &str = "ak_bench";

/// The path of request `n` (deterministic mix); `suffix` is appended to
/// the query (`&record=false` measures serving without impressions).
fn path(people: &[String], n: u64, suffix: &str) -> String {
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    let person = &people[(h % people.len() as u64) as usize];
    match h % 10 {
        0 => format!("/v1/recommendations/visitor{}?n=10{suffix}", h % 100_000),
        1 => format!("/v1/recommendations/{person}?placement=cart&items=85123A&n=10{suffix}"),
        _ => format!("/v1/recommendations/{person}?n=10{suffix}"),
    }
}

struct Run {
    latencies: Vec<f64>,
    errors: u64,
    seconds: f64,
}

impl Run {
    fn json(mut self, mode: &str, impressions: i64) -> Value {
        self.latencies.sort_by(f64::total_cmp);
        let l = &self.latencies;
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or(0.0) * 1000.0
        };
        json!({
            "mode": mode,
            "requests": l.len() as u64 + self.errors,
            "seconds": self.seconds,
            "throughput": l.len() as f64 / self.seconds,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": l.last().copied().unwrap_or(0.0) * 1000.0,
            "errors": self.errors,
            "impressions": impressions,
        })
    }
}

/// `connections` workers; with `rate`, request `n` is due at `n / rate`
/// seconds and its latency counts from then; without, flat out.
async fn drive(url: &str, people: Arc<Vec<String>>, rate: Option<u64>, seconds: u64, connections: usize) -> Run {
    let suffix = if std::env::var_os("RECOMMEND_LOAD_NO_RECORD").is_some() { "&record=false" } else { "" };
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    let auth = basic_auth(KEY);
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let total = rate.map(|r| r * seconds);
    let mut tasks = Vec::new();
    for w in 0..connections as u64 {
        let (client, url, auth, people, stop) =
            (client.clone(), url.to_string(), auth.clone(), people.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            let mut n = w;
            loop {
                let due = match (rate, total) {
                    (Some(rate), Some(total)) => {
                        if n >= total {
                            break;
                        }
                        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    _ => {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        Instant::now()
                    }
                };
                let response = client
                    .get(format!("{url}{}", path(&people, n, suffix)))
                    .header("authorization", &auth)
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(_) => latencies.push(due.elapsed().as_secs_f64()),
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
                n += connections as u64;
            }
            (latencies, errors)
        }));
    }
    if rate.is_none() {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
    }
    let mut run = Run { latencies: Vec::new(), errors: 0, seconds: 0.0 };
    for t in tasks {
        let (l, e) = t.await.expect("worker");
        run.latencies.extend(l);
        run.errors += e;
    }
    run.seconds = started.elapsed().as_secs_f64();
    run
}

fn impressions(store: &DuckDbStore) -> i64 {
    let conn = store.connection().expect("connection");
    conn.query_row("SELECT count(*) FROM events WHERE event = 'Recommendation Shown'", [], |r| r.get(0)).unwrap_or(-1)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: recommend_load MODEL.json OUT.json [RATE SECONDS CONNECTIONS]".into());
    }
    let num = |i: usize, default: u64| args.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let (rate, seconds, connections) = (num(2, 5000)?, num(3, 10)?, num(4, 64)? as usize);
    let started = Instant::now();
    let model = Recommender::load(std::path::Path::new(&args[0]))?;
    let people: Arc<Vec<String>> = Arc::new(model.people().iter().map(|p| p.as_str().to_string()).collect());
    eprintln!("model loaded in {:.2}s: {} people", started.elapsed().as_secs_f64(), people.len());

    let dir = tempfile::tempdir()?;
    let store = Arc::new(DuckDbStore::open(dir.path())?);
    let config = ServerConfig { listen: "127.0.0.1:0".into(), admin_keys: vec![KEY.into()], ..Default::default() };
    let services = Services { recommender: Some(Arc::new(model)), ..Services::default() };
    let server =
        Server::start_with(config, ShopTime::default(), store.clone(), services, std::future::pending()).await?;
    let url = format!("http://{}", server.addr());

    // Warm-up (connections, caches), not measured.
    let _ = drive(&url, people.clone(), Some(1000), 1, connections.min(16)).await;
    let before = impressions(&store);
    let open = drive(&url, people.clone(), Some(rate), seconds, connections).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the writer commits what is queued
    let after_open = impressions(&store);
    let closed = drive(&url, people.clone(), None, seconds, connections).await;
    server.shutdown().await?;
    let after_closed = impressions(&store);
    let runs = vec![open.json("open_loop", after_open - before), closed.json("closed_loop", after_closed - after_open)];
    let result = json!({"rate": rate, "seconds": seconds, "connections": connections,
                        "cores": std::thread::available_parallelism().map_or(1, |p| p.get()), "runs": runs});
    println!("{}", serde_json::to_string_pretty(&result)?);
    std::fs::write(&args[1], serde_json::to_vec_pretty(&result)?)?;
    Ok(())
}
