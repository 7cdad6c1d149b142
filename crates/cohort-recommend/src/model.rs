//! The trained recommender: every candidate source, the catalogue facts the
//! business rules need, and the people's histories, in one value that is
//! saved to and loaded from a file.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Product, ProductId};
use cohort_store::EventStore;
use serde::{Deserialize, Serialize};

use crate::data::{interactions_from_store, Indexed, ItemInfo, UserItem};
use crate::sources::als::{self, Factors};
use crate::sources::popular::{self, Popularity};
use crate::sources::{content, cooccur::CoOccurrence, Neighbours};
use crate::{BasketIndex, Interaction, RecommendConfig, RecommendError, Result, Similarity};

/// Version of the model file layout.
const FORMAT: u32 = 1;

/// Receives training progress (the CLI draws bars with it).
pub trait TrainProgress {
    /// A stage starts with `total` steps.
    fn stage(&self, name: &str, total: u64);
    /// `done` steps of the current stage are finished.
    fn advance(&self, done: u64);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl TrainProgress for NoProgress {
    fn stage(&self, _name: &str, _total: u64) {}
    fn advance(&self, _done: u64) {}
}

/// Sizes of a trained model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// People with at least one interaction.
    pub people: usize,
    /// Products (catalogue and interacted).
    pub items: usize,
    /// Person–item pairs.
    pub pairs: usize,
    /// Orders with two or more distinct products.
    pub baskets: usize,
    /// Item-to-item neighbour links (co-occurrence).
    pub co_occurrence_links: usize,
    /// Basket neighbour links.
    pub bought_together_links: usize,
    /// Content neighbour links.
    pub content_links: usize,
}

/// A trained recommender. Build it with [`Recommender::train`], save and
/// load it with [`Recommender::save`] / [`Recommender::load`], serve it with
/// [`Recommender::recommend`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommender {
    pub(crate) format: u32,
    pub(crate) config: RecommendConfig,
    pub(crate) as_of: DateTime<Utc>,
    pub(crate) items: Vec<ItemInfo>,
    pub(crate) categories: Vec<String>,
    pub(crate) users: Vec<PersonId>,
    pub(crate) user_items: Vec<Vec<UserItem>>,
    pub(crate) co_occurrence: Neighbours,
    pub(crate) bought_together: Neighbours,
    pub(crate) content: Neighbours,
    pub(crate) als: Factors,
    pub(crate) popularity: Popularity,
    /// Per item, days between re-purchases (consumables).
    pub(crate) replenish_days: Vec<f32>,
    pub(crate) baskets: usize,
    #[serde(skip)]
    pub(crate) item_index: HashMap<ProductId, u32>,
    #[serde(skip)]
    pub(crate) user_index: HashMap<PersonId, u32>,
    /// Items by overall popularity, best first.
    #[serde(skip)]
    pub(crate) popular_order: Vec<u32>,
}

impl Recommender {
    /// Trains on every interaction in `store` (as of the latest one).
    pub fn train_from_store(
        store: &dyn EventStore,
        config: &RecommendConfig,
        progress: &dyn TrainProgress,
    ) -> Result<Recommender> {
        progress.stage("reading", 1);
        let interactions = interactions_from_store(store)?;
        let products = store.products()?;
        progress.advance(1);
        Recommender::train(&interactions, &products, config, None, progress)
    }

    /// Trains on `interactions` over the catalogue `products`. With
    /// `as_of`, only interactions strictly before it are used (the
    /// training side of a time split) and ages are measured from it;
    /// otherwise from the latest interaction.
    pub fn train(
        interactions: &[Interaction],
        products: &[Product],
        config: &RecommendConfig,
        as_of: Option<DateTime<Utc>>,
        progress: &dyn TrainProgress,
    ) -> Result<Recommender> {
        config.validate()?;
        let ix = Indexed::build(interactions, products, config, as_of)?;
        let n_items = ix.items.len();
        let rows: Vec<Vec<(u32, f32)>> =
            ix.user_items.iter().map(|r| r.iter().map(|u| (u.item, u.weight)).collect()).collect();
        let co = CoOccurrence {
            similarity: config.similarity,
            k: config.neighbours,
            min_support: config.min_support,
            max_items: config.max_items_per_user,
        };
        progress.stage("co-occurrence", 3);
        let co_occurrence = co.build(&rows, n_items);
        progress.advance(1);
        let basket_rows: Vec<Vec<(u32, f32)>> =
            ix.baskets.iter().map(|b| b.iter().map(|&i| (i, 1.0)).collect()).collect();
        let bought_together = CoOccurrence { similarity: Similarity::Cosine, ..co }.build(&basket_rows, n_items);
        progress.advance(2);
        let content = content::build(&ix.items, config.neighbours, (n_items / 5).max(50));
        progress.advance(3);
        progress.stage("als", config.als.iterations as u64);
        let als = als::train(&rows, n_items, &config.als, &mut |done| progress.advance(done as u64));
        let popularity = popular::build(&ix, config.trending_days);
        let replenish_days = replenishment(&ix, config.default_replenish_days);
        let mut model = Recommender {
            format: FORMAT,
            config: config.clone(),
            as_of: ix.as_of,
            baskets: ix.baskets.len(),
            items: ix.items,
            categories: ix.categories,
            users: ix.users,
            user_items: ix.user_items,
            co_occurrence,
            bought_together,
            content,
            als,
            popularity,
            replenish_days,
            item_index: HashMap::new(),
            user_index: HashMap::new(),
            popular_order: Vec::new(),
        };
        model.index();
        tracing::info!(people = model.users.len(), items = model.items.len(), "recommender trained");
        Ok(model)
    }

    /// Replaces the "bought together" lists of `products` with those of
    /// `index`: the incremental refresh as orders arrive (see
    /// [`BasketIndex`]), without retraining. Products and neighbours the
    /// model does not know are skipped (a new product needs a retrain for
    /// every other source anyway). Returns how many lists were replaced.
    pub fn refresh_bought_together(&mut self, index: &BasketIndex, products: &[ProductId]) -> usize {
        let mut lists: Vec<Vec<(u32, f32)>> =
            (0..self.items.len() as u32).map(|i| self.bought_together.of(i).collect()).collect();
        let mut replaced = 0;
        for p in products {
            let Some(&a) = self.item_index.get(p) else { continue };
            lists[a as usize] =
                index.neighbours(p).into_iter().filter_map(|(b, s)| Some((*self.item_index.get(&b)?, s))).collect();
            replaced += 1;
        }
        self.bought_together = Neighbours::from_lists(lists);
        self.baskets = index.baskets();
        replaced
    }

    /// The people the model knows (trained on), in index order.
    pub fn people(&self) -> &[PersonId] {
        &self.users
    }

    /// The "bought together" neighbours of `product`, best first.
    pub fn bought_together_of(&self, product: &ProductId) -> Vec<(ProductId, f32)> {
        let Some(&a) = self.item_index.get(product) else { return Vec::new() };
        self.bought_together.of(a).map(|(b, s)| (self.items[b as usize].id.clone(), s)).collect()
    }

    /// Rebuilds the lookups that are not saved.
    fn index(&mut self) {
        self.item_index = self.items.iter().enumerate().map(|(i, it)| (it.id.clone(), i as u32)).collect();
        self.user_index = self.users.iter().enumerate().map(|(u, p)| (p.clone(), u as u32)).collect();
        let mut order: Vec<u32> = (0..self.items.len() as u32).collect();
        let pop = &self.popularity.overall;
        order.sort_by(|&a, &b| pop[b as usize].total_cmp(&pop[a as usize]).then(a.cmp(&b)));
        order.retain(|&i| pop[i as usize] > 0.0);
        self.popular_order = order;
    }

    /// Writes the model to `path` (JSON, written to a temporary file then
    /// renamed, so a crash never leaves half a model).
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| RecommendError::Io { path: path.to_path_buf(), source };
        let tmp = path.with_extension("tmp");
        let file = std::fs::File::create(&tmp).map_err(io)?;
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut w, self).map_err(|e| io(e.into()))?;
        std::io::Write::flush(&mut w).map_err(io)?;
        drop(w);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a model written by [`Recommender::save`].
    pub fn load(path: &Path) -> Result<Recommender> {
        let file =
            std::fs::File::open(path).map_err(|source| RecommendError::Io { path: path.to_path_buf(), source })?;
        let mut model: Recommender = serde_json::from_reader(std::io::BufReader::new(file))
            .map_err(|e| RecommendError::BadModel { path: path.to_path_buf(), reason: e.to_string() })?;
        if model.format != FORMAT {
            return Err(RecommendError::BadModel {
                path: path.to_path_buf(),
                reason: format!("format {} (this version reads {FORMAT}): train again", model.format),
            });
        }
        model.index();
        Ok(model)
    }

    /// The instant the model describes (its latest training interaction,
    /// or the split's cut-off).
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of
    }

    /// The settings it was trained with (and ranks with).
    pub fn config(&self) -> &RecommendConfig {
        &self.config
    }

    /// Sizes.
    pub fn summary(&self) -> ModelSummary {
        ModelSummary {
            people: self.users.len(),
            items: self.items.len(),
            pairs: self.user_items.iter().map(Vec::len).sum(),
            baskets: self.baskets,
            co_occurrence_links: (0..self.items.len() as u32).map(|i| self.co_occurrence.of(i).count()).sum(),
            bought_together_links: (0..self.items.len() as u32).map(|i| self.bought_together.of(i).count()).sum(),
            content_links: (0..self.items.len() as u32).map(|i| self.content.of(i).count()).sum(),
        }
    }

    /// Whether `person` has a history in the model.
    pub fn knows(&self, person: &PersonId) -> bool {
        self.user_index.contains_key(person)
    }
}

/// Median days between one person's consecutive purchases of an item, per
/// item (`default` when no one bought it twice a day or more apart).
fn replenishment(ix: &Indexed, default: f32) -> Vec<f32> {
    ix.purchase_times
        .iter()
        .map(|times| {
            let mut by_user = times.clone();
            by_user.sort_unstable_by_key(|&(t, u)| (u, t));
            let mut gaps: Vec<f32> = by_user
                .windows(2)
                .filter(|w| w[0].1 == w[1].1)
                .map(|w| (w[1].0 - w[0].0) as f32 / 86_400.0)
                .filter(|&d| d >= 1.0)
                .collect();
            if gaps.is_empty() {
                return default;
            }
            gaps.sort_unstable_by(f32::total_cmp);
            gaps[gaps.len() / 2]
        })
        .collect()
}
