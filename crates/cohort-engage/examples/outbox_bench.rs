//! Outbox throughput: enqueue N messages (batches of 1 000, one transaction
//! each) and deliver them by signed webhook to a local axum receiver, then
//! report messages per second for both phases and the process's peak memory.
//!
//! ```text
//! cargo run --release -p cohort-engage --example outbox_bench -- 100000 [batch] [concurrency]
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::routing::post;
use axum::Router;
use cohort_engage::channel::{ChannelKind, MessageClass, Rendered, Sink, WebhookConfig};
use cohort_engage::clock::SystemClock;
use cohort_engage::outbox::{NewMessage, Outbox, OutboxOptions};
use cohort_engage::policy::ContactRules;
use cohort_model::{PersonId, ShopTime};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(100_000), |s| s.parse())?;
    let batch: usize = args.get(2).map_or(Ok(1_000), |s| s.parse())?;
    let concurrency: usize = args.get(3).map_or(Ok(64), |s| s.parse())?;

    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    let app = Router::new().route(
        "/hook",
        post(move || {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let mut options = OutboxOptions { concurrency, ..OutboxOptions::default() };
    // The benchmark measures the outbox, not the caps: no caps, no quiet hours.
    options.rules = ContactRules {
        max_per_day: u32::MAX,
        max_per_week: u32::MAX,
        quiet_start: chrono::NaiveTime::MIN,
        quiet_end: chrono::NaiveTime::MIN,
    };
    options.sinks.insert(ChannelKind::Sms, Sink::Webhook(WebhookConfig::new(url, "bench-secret")));
    let outbox =
        Outbox::open_sqlite(&dir.path().join("bench.db"), ShopTime::default(), Arc::new(SystemClock), options).await?;

    let start = Instant::now();
    for first in (0..n).step_by(batch) {
        let messages = (first..(first + batch).min(n))
            .map(|i| NewMessage {
                dedupe_key: format!("bench:{i}"),
                person: PersonId::new(format!("p{i}")).expect("id"),
                channel: ChannelKind::Sms,
                class: MessageClass::Marketing,
                source: "bench".into(),
                recipient: format!("138{i:08}"),
                content: Rendered {
                    subject: String::new(),
                    body: format!("会员{i}，送您¥10无门槛券，7天内有效。回T退订"),
                },
                send_at: None,
            })
            .collect();
        outbox.enqueue_batch(messages).await?;
    }
    let enqueue_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let report = outbox.drain(batch).await?;
    let send_s = start.elapsed().as_secs_f64();
    println!(
        "messages {n}  enqueue {:.0}/s ({enqueue_s:.1} s)  deliver {:.0}/s ({send_s:.1} s)  delivered {}  received {}  peak RSS {:.0} MiB  db {:.0} MiB",
        n as f64 / enqueue_s,
        n as f64 / send_s,
        report.delivered,
        received.load(Ordering::Relaxed),
        peak_rss_mib(),
        std::fs::metadata(dir.path().join("bench.db"))?.len() as f64 / 1048576.0,
    );
    Ok(())
}
