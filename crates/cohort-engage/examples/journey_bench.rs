//! Journey evaluation latency per incoming event: N people each add to
//! cart (entering the cart-abandonment journey: one run row and a wait),
//! half of them order (goal: the run ends), then one tick sends the other
//! half their reminder. Reports per-event latency (p50 / p99) on a SQLite
//! store with `synchronous=FULL`.
//!
//! ```text
//! cargo run --release -p cohort-engage --example journey_bench -- 2000
//! ```

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use cohort_engage::campaign::{Contact, NoIssuer};
use cohort_engage::channel::{ChannelKind, MessageClass, Sink, TemplateSpec, Vars};
use cohort_engage::clock::{Clock, ManualClock};
use cohort_engage::journey::{Action, JourneyEngine, JourneyEvent, JourneySpec, ReEntry, Step, Trigger};
use cohort_engage::outbox::{Outbox, OutboxOptions};
use cohort_model::{PersonId, ShopTime};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(2_000), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2024, 5, 1, 2, 0, 0).single().expect("valid")));
    let mut options = OutboxOptions::default();
    options.sinks.insert(ChannelKind::Sms, Sink::File { path: dir.path().join("sms.jsonl") });
    let outbox = Outbox::open_sqlite(&dir.path().join("j.db"), ShopTime::default(), clock.clone(), options).await?;
    let journey = JourneySpec {
        id: "cart_abandon".into(),
        trigger: Trigger::Event { event: "Product Added".into(), when: Default::default() },
        re_entry: ReEntry::AfterExit,
        goal: Some("Order Completed".into()),
        exit_on: vec![],
        steps: vec![
            Step { id: "hold".into(), action: Action::Wait { minutes: 240 } },
            Step {
                id: "remind".into(),
                action: Action::Send {
                    channel: ChannelKind::Sms,
                    class: MessageClass::Marketing,
                    template: TemplateSpec {
                        name: "remind".into(),
                        subject: String::new(),
                        body: "{{name}}，您购物车里的{{product}}还在等您".into(),
                    },
                    offer: cohort_engage::campaign::Offer::None,
                },
            },
        ],
    };
    let directory = Arc::new(|p: &PersonId, _: ChannelKind| {
        let mut vars = Vars::new();
        vars.insert("name".into(), p.as_str().to_string());
        Some(Contact { person: p.clone(), recipient: "138".into(), vars, peak_hour: None })
    });
    let engine = JourneyEngine::new(outbox.clone(), vec![journey], directory, Arc::new(NoIssuer))?;
    let mut latencies = Vec::with_capacity(n * 2);
    let event = |i: usize, name: &str| JourneyEvent {
        person: PersonId::new(format!("p{i}")).expect("id"),
        name: name.into(),
        at: clock.now(),
        properties: serde_json::json!({"product": "燕麦拿铁"}).as_object().cloned().unwrap_or_default(),
    };
    for i in 0..n {
        let e = event(i, "Product Added");
        let start = Instant::now();
        engine.on_event(&e).await?;
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
    }
    for i in (0..n).step_by(2) {
        let e = event(i, "Order Completed");
        let start = Instant::now();
        engine.on_event(&e).await?;
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
    }
    clock.advance(Duration::hours(4));
    let start = Instant::now();
    let tick = engine.tick().await?;
    let tick_s = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "events {}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  tick woke {} sent {} in {:.2} s",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
        tick.woken,
        tick.sent,
        tick_s
    );
    Ok(())
}
