//! The offline split as plain data, so other libraries can be measured on
//! exactly the same problem (`bench/recommend.py` trains the `implicit`
//! library's ALS on it): the training matrix with the decayed weights our
//! ALS grows its confidence from, and for every evaluated person the
//! relevant items, the items the rules exclude, and our own ALS and hybrid
//! lists (so the harness can check that its metrics agree with ours).

use std::time::Instant;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Product, ProductId};
use serde::{Deserialize, Serialize};

use crate::eval::test_people;
use crate::rank::{Part, Single};
use crate::{
    evaluate, AlsConfig, EvalOptions, EvalReport, Interaction, NoProgress, Placement, RecommendConfig, Recommender,
    Result, Source,
};

/// One evaluated person of a [`BenchSplit`] (indices into its `people` and
/// `items`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchPerson {
    /// Index into `people`.
    pub person: u32,
    /// Relevant items the model knows.
    pub relevant: Vec<u32>,
    /// Relevant products never seen in training (misses for everyone).
    pub unknown: usize,
    /// Items no list may hold for this person (bought durables, out of
    /// stock).
    pub excluded: Vec<u32>,
    /// Our ALS list (`k` items).
    pub als: Vec<u32>,
    /// Our hybrid `home` list.
    pub hybrid: Vec<u32>,
}

/// A time split as data; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSplit {
    /// Training is strictly before this instant.
    pub cut_off: DateTime<Utc>,
    /// List length.
    pub k: usize,
    /// Items (dense index → product).
    pub items: Vec<ProductId>,
    /// People with training history (dense index → person).
    pub people: Vec<PersonId>,
    /// `(person, item, r)`: the decayed interaction weight; ALS confidence
    /// is `1 + alpha · ln(1 + r / epsilon)`.
    pub train: Vec<(u32, u32, f32)>,
    /// Our ALS settings.
    pub als: AlsConfig,
    /// Seconds our ALS alone took to train (on all cores).
    pub als_seconds: f64,
    /// The evaluated people.
    pub test: Vec<BenchPerson>,
    /// Our evaluation of every source on the same split.
    pub report: EvalReport,
}

/// Evaluates every source on the split of `opts` and exports the split.
pub fn benchmark_split(
    interactions: &[Interaction],
    products: &[Product],
    config: &RecommendConfig,
    opts: &EvalOptions,
) -> Result<BenchSplit> {
    let report = evaluate(interactions, products, config, opts, &NoProgress)?;
    let model = Recommender::train(interactions, products, config, Some(opts.cut_off), &NoProgress)?;
    let rows: Vec<Vec<(u32, f32)>> =
        model.user_items.iter().map(|r| r.iter().map(|u| (u.item, u.weight)).collect()).collect();
    let started = Instant::now();
    let _ = crate::sources::als::train(&rows, model.items.len(), &config.als, &mut |_| {});
    let als_seconds = started.elapsed().as_secs_f64();
    let train = rows.iter().enumerate().flat_map(|(u, r)| r.iter().map(move |&(i, w)| (u as u32, i, w))).collect();
    let (people, _) = test_people(&model, interactions, config, opts)?;
    let index = |list: Vec<crate::Recommendation>| -> Vec<u32> {
        list.iter().filter_map(|r| model.item_index.get(&r.product_id).copied()).collect()
    };
    let test = people
        .iter()
        .map(|(person, u, relevant, unknown)| {
            let (excluded, _) = model.exclusions(Some(*u), opts.cut_off);
            let parts = [Part { source: Source::Als, weight: 1.0, scores: model.single_scores(Some(*u), Single::Als) }];
            let als = model.rank(Some(*u), &parts, &[], &Placement::Home, opts.k, opts.cut_off, false);
            let mut relevant: Vec<u32> = relevant.iter().copied().collect();
            relevant.sort_unstable();
            BenchPerson {
                person: *u,
                relevant,
                unknown: *unknown,
                excluded: (0..excluded.len() as u32).filter(|&i| excluded[i as usize]).collect(),
                als: index(als),
                hybrid: index(model.recommend_at(Some(person), &Placement::Home, opts.k, opts.cut_off)),
            }
        })
        .collect();
    Ok(BenchSplit {
        cut_off: opts.cut_off,
        k: opts.k,
        items: model.items.iter().map(|i| i.id.clone()).collect(),
        people: model.users.clone(),
        train,
        als: config.als.clone(),
        als_seconds,
        test,
        report,
    })
}
