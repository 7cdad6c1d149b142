//! Tests of the generator as a whole: determinism, consistency, realism and
//! the native CSV output. User counts stay small so debug builds are fast;
//! the realism checks share one 5,000-user year.

mod consistency;
mod native_csv;
mod realism;

use std::sync::OnceLock;

use chrono::NaiveDate;
use cohort_model::Batch;

use super::{GenerateSummary, Generator, GeneratorConfig};

/// A config for `users` × `days` from 2025-01-01.
fn config(users: u64, days: u32, seed: u64) -> GeneratorConfig {
    GeneratorConfig { users, days, seed, chunk_users: 500, ..GeneratorConfig::default() }
}

/// Every batch of a run merged into one.
fn generate(config: GeneratorConfig) -> (Batch, GenerateSummary) {
    let generator = Generator::new(config).unwrap();
    let mut all = Batch::default();
    let summary = generator
        .run(|mut batch| {
            all.users.append(&mut batch.users);
            all.products.append(&mut batch.products);
            all.events.append(&mut batch.events);
            all.orders.append(&mut batch.orders);
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap();
    (all, summary)
}

/// The shared realism fixture: 5,000 users over 2025.
fn year() -> &'static (Batch, GenerateSummary) {
    static YEAR: OnceLock<(Batch, GenerateSummary)> = OnceLock::new();
    YEAR.get_or_init(|| generate(config(5_000, 365, 2025)))
}

fn date(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, m, d).unwrap()
}
