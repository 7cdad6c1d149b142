//! Offline evaluation on a time split: train on everything before a
//! cut-off, then ask each source for `k` items per person and compare with
//! what that person bought in the following period.
//!
//! Honest by construction:
//! - the model never sees an interaction at or after the cut-off (ages and
//!   replenishment are measured to the cut-off too);
//! - the relevant items of a person are the products they bought in the
//!   test period, minus non-consumables they had already bought before the
//!   cut-off (the business rules forbid recommending those, for every
//!   source and for the baseline alike); products never seen in training
//!   still count as relevant, so they are misses for everyone;
//! - people are evaluated when they have training history and at least one
//!   relevant item (people new in the test period are counted apart);
//! - the baseline is plain popularity (people who touched the item, with
//!   the same exclusions).
//!
//! Metrics at `k`: precision, recall, NDCG (binary gains), MAP (average
//! precision normalised by `min(|relevant|, k)`), hit rate, catalogue
//! coverage (distinct recommended items / items) and novelty (mean
//! `−log₂` of the share of training people who touched a recommended item).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Product};
use serde::{Deserialize, Serialize};

use crate::rank::{Part, Single};
use crate::{
    Interaction, InteractionKind, Placement, RecommendConfig, RecommendError, Recommender, Result, Source,
    TrainProgress,
};

/// How to split and score.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Training uses interactions strictly before this instant.
    pub cut_off: DateTime<Utc>,
    /// The test period ends here (exclusive); `None` = to the end.
    pub test_end: Option<DateTime<Utc>>,
    /// List length.
    pub k: usize,
}

/// The figures of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceMetrics {
    /// `popularity_baseline`, `co_occurrence`, `als`, `content`,
    /// `popularity_category` or `hybrid`.
    pub source: String,
    /// Mean precision@k.
    pub precision: f64,
    /// Mean recall@k.
    pub recall: f64,
    /// Mean NDCG@k.
    pub ndcg: f64,
    /// Mean average precision@k.
    pub map: f64,
    /// Share of people with at least one hit.
    pub hit_rate: f64,
    /// Distinct recommended items / items in the model.
    pub coverage: f64,
    /// Mean self-information of recommended items, bits.
    pub novelty: f64,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The split.
    pub cut_off: DateTime<Utc>,
    /// End of the test period, if bounded.
    pub test_end: Option<DateTime<Utc>>,
    /// List length.
    pub k: usize,
    /// Interactions before the cut-off.
    pub train_interactions: usize,
    /// People evaluated.
    pub people: usize,
    /// People who bought in the test period with no training history
    /// (not evaluated; served by popularity in production).
    pub cold_people: usize,
    /// Relevant (person, item) pairs.
    pub relevant_pairs: usize,
    /// Training seconds.
    pub train_seconds: f64,
    /// One row per source, baseline first, hybrid last.
    pub rows: Vec<SourceMetrics>,
}

impl EvalReport {
    /// The row of one source.
    pub fn get(&self, source: &str) -> Option<&SourceMetrics> {
        self.rows.iter().find(|r| r.source == source)
    }

    /// The rows as an aligned text table.
    pub fn table(&self) -> String {
        let k = self.k;
        let mut out = format!(
            "{:<22} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}\n",
            "source",
            format!("P@{k}"),
            format!("R@{k}"),
            format!("NDCG@{k}"),
            format!("MAP@{k}"),
            format!("HR@{k}"),
            "coverage",
            "novelty"
        );
        for r in &self.rows {
            out.push_str(&format!(
                "{:<22} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>9.4} {:>8.2}\n",
                r.source, r.precision, r.recall, r.ndcg, r.map, r.hit_rate, r.coverage, r.novelty
            ));
        }
        out
    }
}

/// Trains on the interactions before `opts.cut_off` and scores every source
/// on the purchases after it. See the module docs.
pub fn evaluate(
    interactions: &[Interaction],
    products: &[Product],
    config: &RecommendConfig,
    opts: &EvalOptions,
    progress: &dyn TrainProgress,
) -> Result<EvalReport> {
    let cut = opts.cut_off;
    let train_interactions = interactions.iter().filter(|i| i.at < cut).count();
    if train_interactions == 0 {
        return Err(RecommendError::EmptySplit { cut_off: cut.to_rfc3339(), side: "training" });
    }
    let started = Instant::now();
    let model = Recommender::train(interactions, products, config, Some(cut), progress)?;
    let train_seconds = started.elapsed().as_secs_f64();

    let (people, cold_people) = test_people(&model, interactions, config, opts)?;

    let names = ["popularity_baseline", "co_occurrence", "als", "content", "popularity_category", "hybrid"];
    let mut acc: Vec<Acc> = names.iter().map(|_| Acc::default()).collect();
    let n_users = model.users.len() as f64;
    let info = |i: u32| -(((model.popularity.people[i as usize] as f64) + 1.0) / (n_users + 1.0)).log2();
    let baseline = {
        let mut s = model.popularity.overall.clone();
        let m = s.iter().copied().fold(0.0, f32::max).max(f32::MIN_POSITIVE);
        s.iter_mut().for_each(|x| *x /= m);
        s
    };
    progress.stage("evaluating", people.len() as u64);
    for (done, (person, u, relevant, unknown)) in people.iter().enumerate() {
        let single = |source: Source, scores: Vec<f32>| {
            let parts = [Part { source, weight: 1.0, scores }];
            let list = model.rank(Some(*u), &parts, &[], &Placement::Home, opts.k, cut, false);
            ids(&model, &list)
        };
        let lists = [
            single(Source::Popularity, baseline.clone()),
            single(Source::CoOccurrence, model.single_scores(Some(*u), Single::CoOccurrence)),
            single(Source::Als, model.single_scores(Some(*u), Single::Als)),
            single(Source::Content, model.single_scores(Some(*u), Single::Content)),
            single(Source::Popularity, model.single_scores(Some(*u), Single::Popularity)),
            ids(&model, &model.recommend_at(Some(person), &Placement::Home, opts.k, cut)),
        ];
        for (a, list) in acc.iter_mut().zip(&lists) {
            a.add(list, relevant, relevant.len() + unknown, opts.k, &info);
        }
        progress.advance(done as u64 + 1);
    }
    let n_items = model.items.len().max(1) as f64;
    let rows = names.iter().zip(acc).map(|(name, a)| a.finish(name, people.len(), n_items)).collect();
    Ok(EvalReport {
        cut_off: cut,
        test_end: opts.test_end,
        k: opts.k,
        train_interactions,
        people: people.len(),
        cold_people,
        relevant_pairs: people.iter().map(|p| p.2.len() + p.3).sum(),
        train_seconds,
        rows,
    })
}

/// A person scored on the test period: id, model index, relevant items the
/// model knows, relevant products it never saw (misses for everyone).
pub(crate) type TestPerson<'a> = (&'a PersonId, u32, HashSet<u32>, usize);

/// The people evaluated on the test period of `opts` and the number of
/// cold people (see the module docs).
pub(crate) fn test_people<'a>(
    model: &Recommender,
    interactions: &'a [Interaction],
    config: &RecommendConfig,
    opts: &EvalOptions,
) -> Result<(Vec<TestPerson<'a>>, usize)> {
    let cut = opts.cut_off;
    let in_test = |i: &&Interaction| i.at >= cut && opts.test_end.is_none_or(|end| i.at < end);
    let hidden: HashSet<_> = config.hidden.iter().collect();
    let mut truth: HashMap<&PersonId, HashSet<&cohort_model::ProductId>> = HashMap::new();
    for i in interactions.iter().filter(in_test) {
        if i.kind == InteractionKind::Purchase && !hidden.contains(&i.product) {
            truth.entry(&i.person).or_default().insert(&i.product);
        }
    }
    if truth.is_empty() {
        return Err(RecommendError::EmptySplit { cut_off: cut.to_rfc3339(), side: "test" });
    }
    let mut people: Vec<TestPerson<'a>> = Vec::new();
    let mut cold_people = 0;
    let mut persons: Vec<_> = truth.into_iter().collect();
    persons.sort_by(|a, b| a.0.cmp(b.0));
    for (person, bought) in persons {
        let Some(&u) = model.user_index.get(person) else {
            cold_people += 1;
            continue;
        };
        let (excluded, _) = model.exclusions(Some(u), cut);
        let mut known = HashSet::new();
        let mut unknown = 0;
        for p in bought {
            match model.item_index.get(p) {
                Some(&i) if model.items[i as usize].consumable || !excluded[i as usize] => {
                    known.insert(i);
                }
                Some(_) => {} // a durable bought before: not recommendable, not relevant
                None => unknown += 1,
            }
        }
        if !known.is_empty() || unknown > 0 {
            people.push((person, u, known, unknown));
        }
    }

    Ok((people, cold_people))
}

fn ids(model: &Recommender, list: &[crate::Recommendation]) -> Vec<u32> {
    list.iter().filter_map(|r| model.item_index.get(&r.product_id).copied()).collect()
}

#[derive(Default)]
struct Acc {
    precision: f64,
    recall: f64,
    ndcg: f64,
    map: f64,
    hits: f64,
    novelty: f64,
    recommended: usize,
    distinct: HashSet<u32>,
}

impl Acc {
    fn add(&mut self, list: &[u32], relevant: &HashSet<u32>, n_relevant: usize, k: usize, info: &dyn Fn(u32) -> f64) {
        let (mut hits, mut dcg, mut ap) = (0usize, 0f64, 0f64);
        for (pos, &i) in list.iter().take(k).enumerate() {
            self.distinct.insert(i);
            self.novelty += info(i);
            self.recommended += 1;
            if relevant.contains(&i) {
                hits += 1;
                dcg += 1.0 / ((pos + 2) as f64).log2();
                ap += hits as f64 / (pos + 1) as f64;
            }
        }
        let ideal = n_relevant.min(k);
        let idcg: f64 = (0..ideal).map(|p| 1.0 / ((p + 2) as f64).log2()).sum();
        self.precision += hits as f64 / k as f64;
        self.recall += hits as f64 / n_relevant.max(1) as f64;
        self.ndcg += if idcg > 0.0 { dcg / idcg } else { 0.0 };
        self.map += if ideal > 0 { ap / ideal as f64 } else { 0.0 };
        self.hits += f64::from(u8::from(hits > 0));
    }

    fn finish(self, name: &str, people: usize, n_items: f64) -> SourceMetrics {
        let n = people.max(1) as f64;
        SourceMetrics {
            source: name.to_string(),
            precision: self.precision / n,
            recall: self.recall / n,
            ndcg: self.ndcg / n,
            map: self.map / n,
            hit_rate: self.hits / n,
            coverage: self.distinct.len() as f64 / n_items,
            novelty: self.novelty / self.recommended.max(1) as f64,
        }
    }
}
