//! Ledger throughput on SQLite with durable commits (WAL, synchronous=FULL):
//! acknowledged operations per second for a single-member hot spot and for
//! many members, with 64 concurrent clients.
//!
//! `cargo bench -p cohort-loyalty --bench ledger` (release), or
//! `cargo run`-style in debug for a sanity number. `COHORT_BENCH_OPS` sets
//! the operations per scenario (default 20,000).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cohort_loyalty::{Activity, IdempotencyKey, Loyalty, LoyaltyConfig, Points, Redemption};
use cohort_model::{Money, OrderId, ShopTime, SystemClock, UserId};

const CLIENTS: u64 = 64;

async fn scenario(name: &str, members: u64, ops: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let loyalty = Loyalty::open_sqlite(&path, LoyaltyConfig::default(), ShopTime::default(), Arc::new(SystemClock))
        .await
        .expect("open store");
    let loyalty = Arc::new(loyalty);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (l, next, done) = (Arc::clone(&loyalty), Arc::clone(&next), Arc::clone(&done));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ops {
                        return;
                    }
                    let key = IdempotencyKey::new(format!("op-{i}")).expect("key");
                    // Every fourth operation spends a point of the member who
                    // earned three operations earlier.
                    let ok = if i % 4 == 3 {
                        let user = UserId::new(format!("m{}", (i - 3) % members)).expect("user");
                        let how = Redemption::Exchange { item: "gift".into() };
                        l.redeem(&key, &user, Points::new(1), how).await.is_ok()
                    } else {
                        let user = UserId::new(format!("m{}", i % members)).expect("user");
                        let order = OrderId::new(format!("o-{i}")).expect("order");
                        let activity =
                            Activity::OrderPaid { order, paid: Money::from_fen(10_000 + (i % 5_000) as i64) };
                        l.record_activity(&key, &user, activity).await.is_ok()
                    };
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await.expect("client");
    }
    let secs = started.elapsed().as_secs_f64();
    let acked = done.load(Ordering::Relaxed);
    let verified = loyalty.verify().await.expect("verify");
    println!(
        "{name:<22} members={members:<6} acknowledged={acked:<7} {secs:>6.2}s {:>9.0} ops/s  verify={}",
        acked as f64 / secs,
        if verified.is_ok() { "ok" } else { "FAILED" }
    );
}

fn main() {
    let ops = std::env::var("COHORT_BENCH_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        scenario("single-user hot spot", 1, ops).await;
        scenario("many users", 10_000, ops).await;
    });
}
