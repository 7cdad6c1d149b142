//! Exports the Online Retail time split for `bench/recommend.py`: trains
//! every source on the interactions before the cut-off, evaluates them, and
//! writes the split (training matrix, relevant and excluded items per
//! person, our ALS and hybrid lists, timings) as JSON; also saves a model
//! trained on everything, for the serving benchmark.
//!
//! ```sh
//! cargo run --release -p cohort-recommend --example recommend_split -- OUT.json [MODEL.json]
//! ```
//! Data: `$COHORT_DATA_DIR/uci_online_retail/online_retail.csv.gz`.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use cohort_model::ProductId;
use cohort_recommend::{
    benchmark_split, interactions_from_store, EvalOptions, NoProgress, RecommendConfig, Recommender,
};

/// Postage, fees and adjustments: not products.
const NON_PRODUCTS: &[&str] =
    &["POST", "DOT", "M", "m", "C2", "D", "S", "B", "CRUK", "PADS", "BANK CHARGES", "AMAZONFEE"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: recommend_split OUT.json [MODEL.json]")?;
    let model_file = args.next();
    let file = cohort_testkit::dataset(cohort_testkit::ONLINE_RETAIL)
        .ok_or("Online Retail not found under COHORT_DATA_DIR")?;
    let store = cohort_store::MemoryStore::new();
    cohort_collect::import::import_file(
        &store,
        &cohort_collect::import::Source::online_retail(),
        &file,
        &cohort_collect::import::ImportOptions::default(),
        &cohort_collect::import::NoProgress,
    )?;
    let interactions = interactions_from_store(&store)?;
    let products = cohort_store::EventStore::products(&store)?;
    let config = RecommendConfig {
        hidden: NON_PRODUCTS.iter().map(|s| ProductId::new(*s)).collect::<Result<_, _>>()?,
        ..RecommendConfig::default()
    };
    let cut_off = Utc.with_ymd_and_hms(2011, 11, 1, 0, 0, 0).single().expect("valid instant");
    let opts = EvalOptions { cut_off, test_end: None, k: 10 };
    let split = benchmark_split(&interactions, &products, &config, &opts)?;
    eprintln!(
        "{} people, {} items, {} training pairs, {} evaluated; ALS alone {:.2}s, every source {:.2}s\n{}",
        split.people.len(),
        split.items.len(),
        split.train.len(),
        split.test.len(),
        split.als_seconds,
        split.report.train_seconds,
        split.report.table()
    );
    std::fs::write(&out, serde_json::to_vec(&split)?)?;
    if let Some(path) = model_file {
        let started = Instant::now();
        let model = Recommender::train(&interactions, &products, &config, None, &NoProgress)?;
        model.save(std::path::Path::new(&path))?;
        eprintln!("model on everything trained in {:.2}s, saved to {path}", started.elapsed().as_secs_f64());
    }
    Ok(())
}
