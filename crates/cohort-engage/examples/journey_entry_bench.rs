//! The daily entry job on a generated shop: N users over 2025 in an
//! in-memory DuckDB store, the job run on 1 January 2026 with every
//! playbook, then again (nobody enters twice). Reports how long reading the
//! facts, planning and entering take, and who entered which journey; then
//! a 20% price drop on 20 products (who carted or wished them in the last
//! 30 days without buying). No
//! churn model is trained here, so nobody is recalled.
//!
//! ```text
//! cargo run --release -p cohort-engage --example journey_entry_bench -- 5000
//! ```

use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, TimeZone, Utc};
use cohort_collect::generate::{Generator, GeneratorConfig};
use cohort_duckdb::DuckDbStore;
use cohort_engage::campaign::{Contact, NoIssuer};
use cohort_engage::channel::{ChannelKind, Sink, Vars};
use cohort_engage::clock::ManualClock;
use cohort_engage::journey::entry::{self, EntrySettings, EntrySources};
use cohort_engage::journey::price_drop::{self, PriceChange};
use cohort_engage::journey::{playbooks, JourneyEngine};
use cohort_engage::outbox::{Outbox, OutboxOptions};
use cohort_model::{Money, PersonId, ShopTime};
use cohort_store::{AudienceStore, EventStore, WriteSource};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let users: u64 = std::env::args().nth(1).map_or(Ok(5_000), |s| s.parse())?;
    let shop = ShopTime::default();
    let store = Arc::new(DuckDbStore::open_in_memory()?);
    let start = Instant::now();
    let generator = Generator::new(GeneratorConfig { users, days: 365, ..GeneratorConfig::default() })?;
    let summary = generator.run(|batch| -> anyhow::Result<()> {
        let mut tx = store.begin_write(WriteSource::default())?;
        tx.write(&batch)?;
        tx.commit_stream()?;
        Ok(())
    })?;
    println!(
        "generated {} users, {} events, {} orders in {:.1} s",
        summary.users,
        summary.events,
        summary.orders,
        start.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 2, 0, 0).single().expect("valid")));
    let mut options = OutboxOptions::default();
    for kind in [ChannelKind::Sms, ChannelKind::WeCom, ChannelKind::AppPush] {
        options.sinks.insert(kind, Sink::File { path: dir.path().join(format!("{kind}.jsonl")) });
    }
    let outbox = Outbox::open_sqlite(&dir.path().join("engage.db"), shop, clock, options).await?;
    let directory = Arc::new(|p: &PersonId, _: ChannelKind| {
        let mut vars = Vars::new();
        vars.insert("name".into(), p.as_str().to_string());
        Some(Contact { person: p.clone(), recipient: "13800000000".into(), vars, peak_hour: None })
    });
    let engine = JourneyEngine::new(outbox.clone(), playbooks::all(), directory, Arc::new(NoIssuer))?;
    let events: Arc<dyn EventStore> = store.clone();
    let scores: Arc<dyn AudienceStore> = store.clone();
    let sources = EntrySources { events, scores };
    let settings = EntrySettings::default();
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid");

    let t = Instant::now();
    let facts = entry::read_facts(&sources, &shop, today, &settings)?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let planned = entry::plan(today, &facts, &settings);
    let plan_s = t.elapsed().as_secs_f64();
    let n = planned.len();
    let t = Instant::now();
    let report = entry::enter_planned(&engine, planned).await?;
    let enter_s = t.elapsed().as_secs_f64();
    println!(
        "first run: {} people, read {read_s:.2} s, plan {:.1} ms, {n} entries in {enter_s:.2} s ({:.2} ms each)",
        facts.len(),
        plan_s * 1e3,
        enter_s * 1e3 / n.max(1) as f64
    );
    for (journey, count) in &report.entered {
        println!("  {journey:<20} {count}");
    }
    let t = Instant::now();
    let again = entry::run_daily(&engine, &sources, shop, today, &settings).await?;
    println!(
        "second run: entered {}, already entered {}, refused {} in {:.2} s",
        again.total_entered(),
        again.already_entered,
        again.not_allowed,
        t.elapsed().as_secs_f64()
    );
    // Price drops: 20% off the first 20 catalogue products with a price.
    let changes: Vec<PriceChange> = store
        .products()?
        .into_iter()
        .filter_map(|p| {
            let old = p.price.filter(|m| m.fen() >= 100)?;
            Some(PriceChange {
                product: p.id,
                name: p.name,
                old_price: old,
                new_price: Money::from_fen(old.fen() * 4 / 5),
            })
        })
        .take(20)
        .collect();
    let t = Instant::now();
    let drops = price_drop::on_price_changes(&engine, store.clone(), changes, 30).await?;
    println!(
        "price drops on 20 products (30 days): {} events, {} runs entered in {:.2} s",
        drops.events,
        drops.entered,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
