//! Tags and profiles benchmark (docs/audiences.md), on a generated shop in a
//! DuckDB store in a temporary directory:
//! 1. full tag recompute of everyone with the six example rules (time and
//!    peak resident memory);
//! 2. the profile book's load (time, resident memory per person held), then
//!    `GET /v1/profiles/{user}` open loop at `RATE` requests/s for
//!    `SECONDS` over 64 keep-alive connections on loopback, latency from
//!    each request's scheduled send time (no coordinated omission);
//! 3. event → tag latency: a new person's sixth mother-and-baby view is
//!    sent to `/v1/batch`, then the profile is polled every 2 ms until the
//!    `new_parent` tag shows; 30 samples.
//!
//! ```sh
//! cargo run --release -p cohort-server --example audience_bench -- OUT.json [USERS DAYS RATE SECONDS]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use cohort_audience::{example_rules, parse_rules, TagEngine};
use cohort_collect::generate::{Generator, GeneratorConfig};
use cohort_duckdb::DuckDbStore;
use cohort_model::{ShopTime, SystemClock};
use cohort_server::{basic_auth, AudienceService, Server, ServerConfig, Services};
use cohort_store::{EventStore, WriteSource};
use serde_json::json;

const ADMIN: &str = "ak_bench";

/// A field of /proc/self/status in MiB (VmRSS now, VmHWM the peak).
fn proc_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').split_whitespace().next()?.parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

/// Starts a new peak (VmHWM) from the current resident size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
const WRITE: &str = "wk_bench";

fn percentiles(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or(0.0);
    json!({"n": v.len(), "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "max_ms": v.last().copied().unwrap_or(0.0)})
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().ok_or("usage: audience_bench OUT.json [USERS DAYS RATE SECONDS]")?.clone();
    let num = |i: usize, default: u64| args.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let (users, days, rate, seconds) = (num(1, 20_000)?, num(2, 180)? as u32, num(3, 2000)?, num(4, 10)?);

    let dir = tempfile::tempdir()?;
    let store = Arc::new(DuckDbStore::open(dir.path())?);
    let started = Instant::now();
    let generator = Generator::new(GeneratorConfig { users, days, ..GeneratorConfig::default() })?;
    let summary = generator.run(|batch| {
        let mut txn = store.begin_write(WriteSource { kind: "generate".into(), ..Default::default() })?;
        txn.write(&batch)?;
        txn.commit(0).map(|_| ())
    })?;
    let generated_s = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {} users, {} events, {} orders in {generated_s:.1}s",
        summary.users, summary.events, summary.orders
    );
    let as_of = store.stats()?.last_at.ok_or("empty store")?;
    let started = Instant::now();
    cohort_insight::compute_profiles(store.as_ref(), as_of, &cohort_insight::InsightConfig::default(), &mut |_| {})?;
    let profiles_s = started.elapsed().as_secs_f64();

    let rules = parse_rules(&example_rules(), "bench")?;
    let engine = TagEngine::new(rules.clone(), ShopTime::default());
    reset_peak();
    let rss_before_recompute = proc_mib("VmRSS");
    let first = engine.recompute_all(store.as_ref(), store.as_ref(), as_of)?;
    let recompute_peak = proc_mib("VmHWM");
    let again = engine.recompute_all(store.as_ref(), store.as_ref(), as_of)?;
    eprintln!(
        "tag recompute: {:.0} ms (first, {} gained), {:.0} ms (no change); peak RSS {recompute_peak:.0} MiB \
         (from {rss_before_recompute:.0})",
        first.millis, first.gained, again.millis
    );

    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        admin_keys: vec![ADMIN.into()],
        write_keys: vec![WRITE.into()],
        commit_linger_ms: 2,
        ..Default::default()
    };
    let events: Arc<dyn EventStore> = store.clone();
    let rss_before_book = proc_mib("VmRSS");
    let book_started = Instant::now();
    let audience =
        AudienceService::start(events.clone(), store.clone(), rules, ShopTime::default(), Arc::new(SystemClock))?;
    if !audience.wait_idle(Duration::from_secs(3600)) {
        return Err("the profile book did not load".into());
    }
    let book_s = book_started.elapsed().as_secs_f64();
    let held = audience.profiles_held();
    let rss_after_book = proc_mib("VmRSS");
    let per_person_bytes = (rss_after_book - rss_before_book) * 1024.0 * 1024.0 / held.max(1) as f64;
    eprintln!(
        "profile book: {held} persons in {book_s:.1}s, RSS {rss_before_book:.0} → {rss_after_book:.0} MiB \
         ({per_person_bytes:.0} bytes a person)"
    );
    let services = Services { audience: Some(audience), ..Services::default() };
    let server = Server::start_with(config, ShopTime::default(), events, services, std::future::pending()).await?;
    let url = format!("http://{}", server.addr());
    let people: Arc<Vec<String>> = {
        let mut v = Vec::new();
        store.scan_profiles(&mut |p| {
            v.push(p.person_id.into_string());
            Ok(())
        })?;
        Arc::new(v)
    };

    // Profile lookups, open loop.
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let auth = basic_auth(ADMIN);
    let total = rate * seconds;
    let t0 = Instant::now();
    let connections = 64u64;
    let mut tasks = Vec::new();
    for w in 0..connections {
        let (client, url, auth, people) = (client.clone(), url.clone(), auth.clone(), people.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            let mut n = w;
            while n < total {
                let due = t0 + Duration::from_secs_f64(n as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let person = &people[((n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % people.len() as u64) as usize];
                match client
                    .get(format!("{url}/v1/profiles/{person}?events=20"))
                    .header("authorization", &auth)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(_) => lat.push(due.elapsed().as_secs_f64() * 1000.0),
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
                n += connections;
            }
            (lat, errors)
        }));
    }
    let (mut lookups, mut errors) = (Vec::new(), 0u64);
    for t in tasks {
        let (l, e) = t.await?;
        lookups.extend(l);
        errors += e;
    }
    let lookup_s = t0.elapsed().as_secs_f64();
    let achieved = lookups.len() as f64 / lookup_s;

    // Event → tag latency.
    let mut tag_latency = Vec::new();
    let write_auth = basic_auth(WRITE);
    for i in 0..30 {
        let user = format!("bench-parent-{i}");
        let now = chrono::Utc::now();
        let batch: Vec<serde_json::Value> = (0..6)
            .map(|k| {
                json!({"type": "track", "userId": user, "event": "Product Viewed", "messageId": format!("{user}-{k}"),
                            "timestamp": (now - chrono::Duration::minutes(6 - k)).to_rfc3339(),
                            "properties": {"category": "母婴", "product_id": "sku1"}})
            })
            .collect();
        let sent = Instant::now();
        let r = client
            .post(format!("{url}/v1/batch"))
            .header("authorization", &write_auth)
            .json(&json!({"batch": batch}))
            .send()
            .await?;
        if !r.status().is_success() {
            return Err(format!("ingest answered {}", r.status()).into());
        }
        loop {
            let body: serde_json::Value = client
                .get(format!("{url}/v1/profiles/{user}?events=1"))
                .header("authorization", &auth)
                .send()
                .await?
                .json()
                .await?;
            if body["tags"].as_array().is_some_and(|t| t.iter().any(|t| t["tag"] == "new_parent")) {
                tag_latency.push(sent.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if sent.elapsed() > Duration::from_secs(30) {
                return Err(format!("{user} never got the tag").into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    server.shutdown().await?;

    let result = json!({
        "shop": {"users": summary.users, "days": days, "events": summary.events, "orders": summary.orders,
                 "persons": first.persons, "generate_s": generated_s, "profiles_s": profiles_s},
        "recompute": {"first_ms": first.millis, "unchanged_ms": again.millis, "gained": first.gained, "counts": first.counts,
                      "rss_before_mib": rss_before_recompute, "peak_rss_mib": recompute_peak},
        "profile_book": {"persons": held, "load_s": book_s, "rss_before_mib": rss_before_book,
                         "rss_after_mib": rss_after_book, "bytes_per_person": per_person_bytes},
        "profile_lookup": {"rate": rate, "seconds": seconds, "achieved_rps": achieved, "errors": errors,
                           "latency": percentiles(lookups)},
        "event_to_tag": percentiles(tag_latency),
        "cores": std::thread::available_parallelism().map_or(1, |p| p.get()),
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    std::fs::write(out, serde_json::to_vec_pretty(&result)?)?;
    Ok(())
}
