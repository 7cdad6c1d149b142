//! The engine against an independent plain-Rust implementation (loops over
//! the store's per-person histories, predicates evaluated in Rust, days in
//! chrono) on a generated shop: funnels in every mode with a breakdown, and
//! weekly retention grids, must agree exactly.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use cohort_analytics::{
    Activity, Analytics, EventMatch, FunnelMode, FunnelSpec, Property, RetentionMode, RetentionSpec,
};
use cohort_collect::generate::{Generator, GeneratorConfig};
use cohort_duckdb::DuckDbStore;
use cohort_model::{OrderKind, ShopTime};
use cohort_store::{EventStore, PersonHistory, WriteSource};

fn generated() -> (DuckDbStore, Vec<PersonHistory>) {
    let store = DuckDbStore::open_in_memory().unwrap();
    let generator = Generator::new(GeneratorConfig { users: 3000, days: 120, seed: 11, ..Default::default() }).unwrap();
    let mut txn = store.begin_write(WriteSource { kind: "generate".into(), ..Default::default() }).unwrap();
    generator.run(|batch| txn.write(&batch)).unwrap();
    txn.commit(0).unwrap();
    let mut histories = Vec::new();
    store
        .scan_histories(&mut |h| {
            histories.push(h);
            Ok(())
        })
        .unwrap();
    (store, histories)
}

const STEPS: [&str; 4] = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"];

struct Plain {
    persons: Vec<u64>,
    by_platform: BTreeMap<String, Vec<u64>>,
    gaps: Vec<Vec<i64>>,
}

/// A straightforward funnel: for every person, every start, walk forward.
fn plain_funnel(histories: &[PersonHistory], window_ms: i64, mode: FunnelMode) -> Plain {
    let n = STEPS.len();
    let mut out = Plain { persons: vec![0; n], by_platform: BTreeMap::new(), gaps: vec![Vec::new(); n] };
    for h in histories {
        let mut evs: Vec<(i64, u64, String)> = h
            .events
            .iter()
            .map(|e| {
                let mask = STEPS.iter().enumerate().filter(|(_, s)| e.name.as_str() == **s).map(|(i, _)| 1 << i).sum();
                (
                    e.timestamp.timestamp_millis(),
                    mask,
                    e.platform.map_or("(none)".to_string(), |p| p.as_str().to_string()),
                )
            })
            .collect();
        if mode != FunnelMode::Strict {
            evs.retain(|e| e.1 != 0);
        }
        evs.sort_by_key(|e| (e.0, e.1.trailing_zeros()));
        let mut best: Option<(usize, Vec<i64>, String)> = None;
        for s in 0..evs.len() {
            let t0 = evs[s].0;
            let starts = if mode == FunnelMode::AnyOrder { evs[s].1 != 0 } else { evs[s].1 & 1 != 0 };
            if !starts {
                continue;
            }
            let mut times = vec![t0];
            if mode == FunnelMode::AnyOrder {
                let mut seen = 0_u64;
                for e in &evs[s..] {
                    if e.0 - t0 > window_ms {
                        break;
                    }
                    for _ in 0..(e.1 & !seen).count_ones() {
                        times.push(e.0);
                    }
                    seen |= e.1;
                }
                times.remove(0);
            } else {
                let mut at = s;
                for k in 1..n {
                    let mut next = None;
                    for j in at + 1..evs.len() {
                        if evs[j].0 - t0 > window_ms {
                            break;
                        }
                        let fits =
                            evs[j].1 & (1 << k) != 0 && (mode != FunnelMode::StrictIncrease || evs[j].0 > times[k - 1]);
                        if fits {
                            next = Some(j);
                            break;
                        }
                        if mode == FunnelMode::Strict {
                            break;
                        }
                    }
                    match next {
                        Some(j) => {
                            times.push(evs[j].0);
                            at = j;
                        }
                        None => break,
                    }
                }
            }
            if best.as_ref().is_none_or(|b| times.len() > b.0) {
                best = Some((times.len(), times, evs[s].2.clone()));
            }
        }
        if let Some((level, times, platform)) = best {
            let row = out.by_platform.entry(platform).or_insert_with(|| vec![0; n]);
            for k in 0..level {
                out.persons[k] += 1;
                row[k] += 1;
                if k > 0 {
                    out.gaps[k].push(times[k] - times[k - 1]);
                }
            }
        }
    }
    out
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] as f64 } else { (v[m - 1] + v[m]) as f64 / 2.0 } / 1000.0)
}

#[test]
fn funnels_agree_with_a_plain_rust_implementation_in_every_mode() {
    let (store, histories) = generated();
    let analytics = Analytics::new(&store, ShopTime::default());
    for mode in [FunnelMode::Ordered, FunnelMode::StrictIncrease, FunnelMode::AnyOrder, FunnelMode::Strict] {
        let mut spec = FunnelSpec::new(STEPS.iter().map(|s| EventMatch::named(*s)));
        spec.window = "7d".parse().unwrap();
        spec.mode = mode;
        spec.breakdown = Some(Property::Platform);
        let r = analytics.funnel(&spec).unwrap();
        let plain = plain_funnel(&histories, 7 * 86_400_000, mode);
        let got: Vec<u64> = r.steps.iter().map(|s| s.persons).collect();
        println!("{mode:?}: engine {got:?}, plain {:?}", plain.persons);
        assert_eq!(got, plain.persons, "{mode:?}");
        assert!(plain.persons[3] > 100, "the shop converts: {:?}", plain.persons);
        let by: BTreeMap<String, Vec<u64>> =
            r.breakdowns.iter().map(|b| (b.value.clone(), b.steps.iter().map(|s| s.persons).collect())).collect();
        assert_eq!(by, plain.by_platform, "{mode:?} by platform");
        for k in 1..STEPS.len() {
            assert_eq!(r.steps[k].median_seconds_from_previous, median(plain.gaps[k].clone()), "{mode:?} step {k}");
        }
    }
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

#[test]
fn weekly_retention_agrees_with_a_plain_rust_implementation() {
    let (store, histories) = generated();
    let shop = ShopTime::default();
    let analytics = Analytics::new(&store, shop);
    let as_of = histories
        .iter()
        .flat_map(|h| h.events.iter().map(|e| e.timestamp).chain(h.orders.iter().map(|o| o.placed_at)))
        .max()
        .unwrap();
    let last_week = monday(shop.date(as_of));
    for (cohort, returning, mode) in [
        (Activity::AnyEvent, Activity::event("Order Completed"), RetentionMode::Bounded),
        (Activity::Order, Activity::AnyEvent, RetentionMode::Unbounded),
        (Activity::event("Products Searched"), Activity::event("Products Searched"), RetentionMode::Bounded),
    ] {
        let periods = 12;
        let spec =
            RetentionSpec { cohort: cohort.clone(), returning: returning.clone(), periods, mode, ..Default::default() };
        let r = analytics.retention(&spec).unwrap();
        // plain: cohort week of the first occurrence, set of weeks returned
        let mut plain: BTreeMap<NaiveDate, Vec<u64>> = BTreeMap::new();
        for h in &histories {
            let times = |a: &Activity| -> Vec<chrono::DateTime<chrono::Utc>> {
                match a {
                    Activity::AnyEvent => h.events.iter().map(|e| e.timestamp).collect(),
                    Activity::Event { event, .. } => {
                        h.events.iter().filter(|e| e.name.as_str() == event).map(|e| e.timestamp).collect()
                    }
                    Activity::Order => {
                        h.orders.iter().filter(|o| o.kind == OrderKind::Purchase).map(|o| o.placed_at).collect()
                    }
                }
            };
            let Some(first) = times(&cohort).into_iter().min() else { continue };
            let week = monday(shop.date(first));
            let back: BTreeSet<i64> = times(&returning)
                .into_iter()
                .map(|t| (monday(shop.date(t)) - week).num_days() / 7)
                .filter(|&k| k >= 1)
                .collect();
            let row = plain.entry(week).or_insert_with(|| vec![0; periods as usize + 1]);
            row[0] += 1;
            match mode {
                RetentionMode::Bounded => {
                    back.iter().filter(|&&k| k <= i64::from(periods)).for_each(|&k| row[k as usize] += 1)
                }
                RetentionMode::Unbounded => {
                    if let Some(&last) = back.iter().max() {
                        (1..=last.min(i64::from(periods))).for_each(|k| row[k as usize] += 1);
                    }
                }
            }
        }
        let expected: Vec<(NaiveDate, Vec<Option<u64>>)> = plain
            .into_iter()
            .map(|(week, row)| {
                let cells = row
                    .iter()
                    .enumerate()
                    .map(|(k, &n)| (week + chrono::Duration::days(7 * k as i64) <= last_week).then_some(n))
                    .collect();
                (week, cells)
            })
            .collect();
        let got: Vec<(NaiveDate, Vec<Option<u64>>)> =
            r.cohorts.iter().map(|c| (c.cohort, c.retained.clone())).collect();
        println!("{} → {}: {} cohorts, first row {:?}", cohort.label(), returning.label(), got.len(), got.first());
        assert_eq!(got, expected, "{} → {} ({mode:?})", cohort.label(), returning.label());
        assert!(got.len() >= 17, "about 18 weeks of cohorts");
    }
}
