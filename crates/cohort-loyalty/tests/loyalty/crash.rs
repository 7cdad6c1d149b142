//! Crash test: a child process (this test binary re-executed) streams ledger
//! writes to a SQLite file and prints each acknowledged key after its commit;
//! the parent SIGKILLs it mid-stream, twice, then reopens the store: the
//! ledger verifies and every acknowledged key is present exactly once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cohort_loyalty::{Activity, Loyalty, LoyaltyConfig, Points, Redemption};
use cohort_model::{ShopTime, SystemClock};
use sqlx::Row;

use crate::common::{key, order, user, yuan};

const DB_ENV: &str = "COHORT_LOYALTY_CRASH_DB";
const START_ENV: &str = "COHORT_LOYALTY_CRASH_START";
const ACKS_BEFORE_KILL: usize = 2_000;

/// The child: writes until killed. A no-op in a normal test run.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(DB_ENV) else { return };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let clock = Arc::new(SystemClock);
        let l = Loyalty::open_sqlite(Path::new(&path), LoyaltyConfig::default(), ShopTime::default(), clock);
        let l = Arc::new(l.await.unwrap());
        let next = Arc::new(AtomicU64::new(start));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (l, next) = (Arc::clone(&l), Arc::clone(&next));
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= start + 200_000 {
                            return;
                        }
                        let k = format!("crash-{i}");
                        let u = user(&format!("u{}", i % 13));
                        let ok = if i % 4 == 3 {
                            let how = Redemption::Exchange { item: "gift".into() };
                            l.redeem(&key(&k), &u, Points::new(7), how).await.is_ok()
                        } else {
                            let paid = yuan((i % 50 + 1) as i64);
                            let a = Activity::OrderPaid { order: order(&format!("o-{i}")), paid };
                            l.record_activity(&key(&k), &u, a).await.is_ok()
                        };
                        if ok {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ACK {k}").unwrap();
                            out.flush().unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn kill_during_ledger_writes_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut acked = BTreeSet::new();
    for round in 0..2u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash::crash_child", "--nocapture", "--test-threads=1"])
            .env(DB_ENV, &db)
            .env(START_ENV, (round * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut this_round = 0;
        while this_round < ACKS_BEFORE_KILL {
            let Some(line) = lines.next() else { break };
            if let Some(k) = line.unwrap().strip_prefix("ACK ") {
                acked.insert(k.to_string());
                this_round += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines already written before the kill were acknowledged too.
        for line in lines.map_while(Result::ok) {
            if let Some(k) = line.strip_prefix("ACK ") {
                acked.insert(k.to_string());
            }
        }
        assert!(this_round >= ACKS_BEFORE_KILL, "round {round}: child stopped after {this_round} acknowledgements");
    }

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let l = Loyalty::open_sqlite(&db, LoyaltyConfig::default(), ShopTime::default(), Arc::new(SystemClock))
            .await
            .unwrap();
        let report = l.verify().await.unwrap();
        assert!(report.is_ok(), "{:#?}", report.problems);
        let mut conn = l.pool().acquire().await.unwrap();
        let rows =
            sqlx::query("SELECT idem_key, COUNT(*) FROM loyalty_ops WHERE idem_key LIKE 'crash-%' GROUP BY idem_key")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        let stored: BTreeSet<String> = rows
            .iter()
            .map(|r| {
                assert_eq!(r.get::<i64, _>(1), 1);
                r.get::<String, _>(0)
            })
            .collect();
        let missing: Vec<&String> = acked.difference(&stored).collect();
        assert!(
            missing.is_empty(),
            "{} acknowledged operations lost: {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(acked.len() >= 2 * ACKS_BEFORE_KILL);
        // The store keeps working after the crashes.
        l.record_activity(&key("after-crash"), &user("u1"), Activity::Review).await.unwrap();
        assert!(l.verify().await.unwrap().is_ok());
    });
}
