//! Tags at scale (docs/audiences.md): a generated shop in a DuckDB store
//! kept in `STORE_DIR` (generated on the first run, reused after), then
//! 1. a full tag recompute of everyone with the six example rules, twice
//!    (first: every tag gained; then nothing changes): time and peak
//!    resident memory;
//! 2. the profile book's full load: time, persons, resident memory a person;
//! 3. the incremental update of one person at a time (what the tag thread
//!    does after a commit: read the history, evaluate, store the changes,
//!    refresh the book), for 20 persons spread over the id range.
//!
//! `TAGS_SCALE_SKIP_RECOMPUTE=1` skips step 1 (for a second look at 2–3).
//!
//! ```sh
//! cargo run --release -p cohort-server --example tags_scale -- STORE_DIR OUT.json [USERS DAYS]
//! ```
//! 1,000,000 users over 240 days is about 20 million events.

use std::time::Instant;

use cohort_audience::{example_rules, parse_rules, ProfileBook, TagEngine, EVENTS_KEPT};
use cohort_collect::generate::{Generator, GeneratorConfig};
use cohort_duckdb::DuckDbStore;
use cohort_model::ShopTime;
use cohort_store::{EventStore, WriteSource};
use serde_json::json;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: tags_scale STORE_DIR OUT.json [USERS DAYS]";
    let dir = std::path::PathBuf::from(args.first().ok_or(usage)?);
    let out = args.get(1).ok_or(usage)?.clone();
    let num = |i: usize, default: u64| args.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let (users, days) = (num(2, 1_000_000)?, num(3, 240)? as u32);

    let store = DuckDbStore::open(&dir)?;
    let mut generate_s = None;
    if store.stats()?.events == 0 {
        let started = Instant::now();
        let generator = Generator::new(GeneratorConfig { users, days, ..GeneratorConfig::default() })?;
        let summary = generator.run(|batch| {
            let mut txn = store.begin_write(WriteSource { kind: "generate".into(), ..Default::default() })?;
            txn.write(&batch)?;
            txn.commit(0).map(|_| ())
        })?;
        generate_s = Some(started.elapsed().as_secs_f64());
        eprintln!(
            "generated {} users, {} events in {:.0}s",
            summary.users,
            summary.events,
            started.elapsed().as_secs_f64()
        );
    }
    let stats = store.stats()?;
    let as_of = stats.last_at.ok_or("empty store")?;
    eprintln!("store: {} persons, {} events, {} orders", stats.persons, stats.events, stats.orders);

    let engine = TagEngine::new(parse_rules(&example_rules(), "bench")?, ShopTime::default());
    let mut recompute = serde_json::Value::Null;
    if std::env::var_os("TAGS_SCALE_SKIP_RECOMPUTE").is_none() {
        reset_peak();
        let rss_start = proc_mib("VmRSS");
        let first = engine.recompute_all(&store, &store, as_of)?;
        let first_peak = proc_mib("VmHWM");
        eprintln!(
            "recompute (first): {:.1}s, {} gained, peak {first_peak:.0} MiB",
            first.millis / 1000.0,
            first.gained
        );
        reset_peak();
        let again = engine.recompute_all(&store, &store, as_of)?;
        let again_peak = proc_mib("VmHWM");
        eprintln!("recompute (no change): {:.1}s, peak {again_peak:.0} MiB", again.millis / 1000.0);
        recompute = json!({
            "first": {"s": first.millis / 1000.0, "persons": first.persons, "gained": first.gained,
                      "counts": first.counts, "peak_rss_mib": first_peak, "rss_before_mib": rss_start},
            "unchanged": {"s": again.millis / 1000.0, "peak_rss_mib": again_peak},
        });
    }

    let book = ProfileBook::new(EVENTS_KEPT);
    let rss_before_book = proc_mib("VmRSS");
    reset_peak();
    let loaded = book.load(&store, &store)?;
    let rss_after_book = proc_mib("VmRSS");
    let book_peak = proc_mib("VmHWM");
    let per_person = (rss_after_book - rss_before_book) * 1024.0 * 1024.0 / loaded.persons.max(1) as f64;
    eprintln!(
        "profile book: {} persons, {} events in {:.1}s; RSS {rss_before_book:.0} → {rss_after_book:.0} MiB \
         ({per_person:.0} bytes a person), peak {book_peak:.0} MiB",
        loaded.persons,
        loaded.events,
        loaded.millis / 1000.0
    );
    // One person at a time, as the tag thread does after a commit.
    let mut ids = Vec::new();
    store.scan_profiles(&mut |p| {
        ids.push(p.person_id);
        Ok(())
    })?;
    if ids.is_empty() {
        store.scan_histories(&mut |h| {
            if ids.len() < 100_000 {
                ids.push(h.person_id);
            }
            Ok(())
        })?;
    }
    let mut one_ms = Vec::new();
    for k in 0..20 {
        let person = ids[k * ids.len() / 20].clone();
        let started = Instant::now();
        engine.update_persons_observed(&store, &store, std::slice::from_ref(&person), as_of, &mut |u| {
            book.refresh(&store, u.history, u.person, u.profile, u.before, u.changes)
        })?;
        one_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    one_ms.sort_by(f64::total_cmp);
    eprintln!("incremental update of one person: p50 {:.0} ms, max {:.0} ms", one_ms[10], one_ms[19]);
    let result = json!({
        "store": {"persons": stats.persons, "users": stats.users, "events": stats.events, "orders": stats.orders,
                  "generate_s": generate_s},
        "recompute": recompute,
        "incremental_one_person_ms": {"p50": one_ms[10], "max": one_ms[19], "all": one_ms},
        "profile_book": {"persons": loaded.persons, "events": loaded.events, "load_s": loaded.millis / 1000.0,
                         "rss_before_mib": rss_before_book, "rss_after_mib": rss_after_book,
                         "bytes_per_person": per_person, "peak_rss_mib": book_peak},
        "cores": std::thread::available_parallelism().map_or(1, |p| p.get()),
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    std::fs::write(out, serde_json::to_vec_pretty(&result)?)?;
    Ok(())
}
