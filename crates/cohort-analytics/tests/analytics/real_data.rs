//! Real data: the Taobao pv → cart → buy funnel and Online Retail monthly
//! cohort retention, against values computed independently in plain Rust
//! straight from the files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use cohort_analytics::{Activity, Analytics, EventMatch, FunnelMode, FunnelSpec, Period, RetentionMode, RetentionSpec};
use cohort_collect::import::{import_file, ImportOptions, NoProgress, Source};
use cohort_duckdb::DuckDbStore;
use cohort_model::ShopTime;

fn read_gz(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text
}

fn import(path: &Path, source: Source) -> DuckDbStore {
    let store = DuckDbStore::open_in_memory().unwrap();
    import_file(&store, &source, path, &ImportOptions::default(), &NoProgress).unwrap();
    store
}

/// pv → cart → buy per user, ordered, from the raw rows.
fn plain_taobao(text: &str, window_s: i64, mode: FunnelMode) -> Vec<u64> {
    let mut users: HashMap<&str, Vec<(i64, u32)>> = HashMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split(',').collect();
        let step = match cells[3] {
            "pv" => 0,
            "cart" => 1,
            "buy" => 2,
            _ => continue,
        };
        users.entry(cells[0]).or_default().push((cells[4].parse().unwrap(), step));
    }
    let mut reached = vec![0_u64; 3];
    for evs in users.values_mut() {
        evs.sort();
        let mut best = 0;
        for s in 0..evs.len() {
            let t0 = evs[s].0;
            let level = if mode == FunnelMode::AnyOrder {
                let steps: BTreeSet<u32> = evs[s..].iter().take_while(|e| e.0 - t0 <= window_s).map(|e| e.1).collect();
                steps.len()
            } else {
                if evs[s].1 != 0 {
                    continue;
                }
                let mut level = 1;
                for e in &evs[s + 1..] {
                    if e.0 - t0 > window_s || level == 3 {
                        break;
                    }
                    if e.1 == level as u32 {
                        level += 1;
                    }
                }
                level
            };
            best = best.max(level);
        }
        for k in 0..best {
            reached[k] += 1;
        }
    }
    reached
}

#[test]
fn taobao_pv_cart_buy_funnel_matches_the_file() {
    let Some(path) = cohort_testkit::dataset(cohort_testkit::TAOBAO) else { return };
    let text = read_gz(&path);
    let store = import(&path, Source::Taobao);
    let stored: i64 = store.connection().unwrap().query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(stored as usize, text.lines().count(), "every row imported");
    let analytics = Analytics::new(&store, ShopTime::default());
    // pinned figures (checked against the plain computation below)
    let pinned: [(&str, FunnelMode, [u64; 3]); 3] = [
        ("1d", FunnelMode::Ordered, [813, 590, 279]),
        ("3d", FunnelMode::Ordered, [813, 596, 365]),
        ("1d", FunnelMode::AnyOrder, [815, 712, 352]),
    ];
    for (window, mode, figures) in pinned {
        let mut spec = FunnelSpec::new(["pv", "Product Added", "Order Completed"].map(EventMatch::named));
        spec.window = window.parse().unwrap();
        spec.mode = mode;
        let r = analytics.funnel(&spec).unwrap();
        let got: Vec<u64> = r.steps.iter().map(|s| s.persons).collect();
        let plain = plain_taobao(&text, spec.window.millis() / 1000, mode);
        println!("taobao {window} {mode:?}: engine {got:?}, plain {plain:?}");
        assert_eq!(got, plain);
        assert_eq!(got, figures);
    }
}

/// Year and month of `YYYY-MM-DD HH:MM:SS` (the file's UK wall-clock dates).
fn month_of(date: &str) -> (i32, u32) {
    (date[0..4].parse().unwrap(), date[5..7].parse().unwrap())
}

#[test]
fn online_retail_monthly_cohort_retention_matches_the_file() {
    let Some(path) = cohort_testkit::dataset(cohort_testkit::ONLINE_RETAIL) else { return };
    let text = read_gz(&path);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut months: HashMap<String, BTreeSet<(i32, u32)>> = HashMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let (invoice, date, customer) = (&row[0], &row[4], row[6].trim());
        if customer.is_empty() || invoice.starts_with('C') {
            continue;
        }
        months.entry(customer.to_string()).or_default().insert(month_of(date));
    }
    let index = |(y, m): (i32, u32)| i64::from(y) * 12 + i64::from(m) - 1;
    let last = months.values().flat_map(|m| m.iter().copied()).map(index).max().unwrap();
    let periods = 12_u32;
    let mut bounded: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    let mut unbounded: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for set in months.values() {
        let cohort = index(*set.iter().next().unwrap());
        let b = bounded.entry(cohort).or_insert_with(|| vec![0; periods as usize + 1]);
        let u = unbounded.entry(cohort).or_insert_with(|| vec![0; periods as usize + 1]);
        b[0] += 1;
        u[0] += 1;
        for &m in set.iter().skip(1) {
            let k = (index(m) - cohort) as usize;
            if k <= periods as usize {
                b[k] += 1;
            }
        }
        let last_k = (index(*set.iter().last().unwrap()) - cohort) as usize;
        for cell in u.iter_mut().take(last_k.min(periods as usize) + 1).skip(1) {
            *cell += 1;
        }
    }
    let store = import(&path, Source::online_retail());
    let analytics = Analytics::new(&store, ShopTime::from_name("Europe/London").unwrap());
    for (mode, plain) in [(RetentionMode::Bounded, &bounded), (RetentionMode::Unbounded, &unbounded)] {
        let spec = RetentionSpec {
            cohort: Activity::Order,
            returning: Activity::Order,
            period: Period::Month,
            periods,
            mode,
            ..RetentionSpec::default()
        };
        let r = analytics.retention(&spec).unwrap();
        let expected: Vec<(i64, Vec<Option<u64>>)> = plain
            .iter()
            .map(|(&c, row)| (c, row.iter().enumerate().map(|(k, &n)| (c + k as i64 <= last).then_some(n)).collect()))
            .collect();
        let got: Vec<(i64, Vec<Option<u64>>)> = r
            .cohorts
            .iter()
            .map(|c| {
                (index((chrono::Datelike::year(&c.cohort), chrono::Datelike::month(&c.cohort))), c.retained.clone())
            })
            .collect();
        println!("online retail {mode:?}: first cohort {:?}", got.first());
        assert_eq!(got, expected, "{mode:?}");
        assert_eq!(got.len(), 13, "Dec 2010 to Dec 2011");
        let first: Vec<u64> = got[0].1.iter().map(|c| c.unwrap()).collect();
        let pinned: &[u64] = match mode {
            RetentionMode::Bounded => &[885, 324, 286, 340, 321, 352, 321, 309, 313, 350, 331, 445, 235],
            RetentionMode::Unbounded => &[885, 766, 753, 741, 724, 713, 696, 672, 652, 621, 583, 510, 235],
        };
        assert_eq!(first, pinned, "the December 2010 cohort");
    }
}
