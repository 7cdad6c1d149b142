//! Serving: the candidate sources blended per placement, then the business
//! rules, in this order:
//! 1. hard exclusions — out-of-stock items, items already bought that are
//!    not consumables, consumables bought too recently
//!    (before `replenish_from` × their re-purchase interval), and the
//!    placement's own items (the cart, the order, the product shown);
//! 2. replenishment — a consumable between `replenish_from` and
//!    `replenish_until` intervals after its last purchase is lifted to the
//!    top;
//! 3. diversity — at most `max_per_category` items of one category, unless
//!    the list would be short;
//! 4. fill — popular items when the sources run dry (cold start);
//! 5. pins — operators' items at their slots (hard exclusions still apply).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, ProductId};

use crate::model::Recommender;
use crate::placement::{Placement, Recommendation, Source};

/// One source's scores over every item, with its weight in the blend.
pub(crate) struct Part {
    pub source: Source,
    pub weight: f32,
    pub scores: Vec<f32>,
}

/// A source that can be ranked alone (evaluation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Single {
    CoOccurrence,
    Als,
    Content,
    Popularity,
}

impl Recommender {
    /// The top `n` products for `person` at `placement`, ranked as of the
    /// model's [`Recommender::as_of`]. Unknown people get the cold-start
    /// list (popularity, and the placement's item-to-item sources).
    pub fn recommend(&self, person: &PersonId, placement: &Placement, n: usize) -> Vec<Recommendation> {
        self.recommend_at(Some(person), placement, n, self.as_of)
    }

    /// Products similar to `product` for an anonymous visitor (the
    /// "similar items" placement without a person).
    pub fn similar(&self, product: &ProductId, n: usize) -> Vec<Recommendation> {
        self.recommend_at(None, &Placement::Similar { product: product.clone() }, n, self.as_of)
    }

    /// Like [`Recommender::recommend`], for an optional person and an
    /// explicit "now" (replenishment windows are measured to it).
    pub fn recommend_at(
        &self,
        person: Option<&PersonId>,
        placement: &Placement,
        n: usize,
        now: DateTime<Utc>,
    ) -> Vec<Recommendation> {
        let user = person.and_then(|p| self.user_index.get(p).copied());
        let lookup = |ids: &[ProductId]| ids.iter().filter_map(|p| self.item_index.get(p).copied()).collect::<Vec<_>>();
        let h = &self.config.hybrid;
        let (parts, context): (Vec<Part>, Vec<u32>) = match placement {
            Placement::Home => (self.user_parts(user, 1.0), Vec::new()),
            Placement::Cart { items } | Placement::Order { items } => {
                let seeds = lookup(items);
                let mut parts = vec![
                    self.item_part(Source::BoughtTogether, 1.0, &seeds),
                    self.item_part(Source::CoOccurrence, 0.5, &seeds),
                ];
                if user.is_some() {
                    parts.extend(self.user_parts(user, 0.3));
                }
                (parts, seeds)
            }
            Placement::Similar { product } => {
                let seeds = lookup(std::slice::from_ref(product));
                let parts = vec![
                    self.item_part(Source::CoOccurrence, h.co_occurrence.max(0.1), &seeds),
                    self.item_part(Source::Content, h.co_occurrence.max(0.1), &seeds),
                ];
                (parts, seeds)
            }
            Placement::BoughtTogether { product } => {
                let seeds = lookup(std::slice::from_ref(product));
                let parts = vec![
                    self.item_part(Source::BoughtTogether, 1.0, &seeds),
                    self.item_part(Source::CoOccurrence, 0.3, &seeds),
                ];
                (parts, seeds)
            }
        };
        self.rank(user, &parts, &context, placement, n, now, true)
    }

    /// The scores of the person-level sources, each scaled to 0..1.
    pub(crate) fn user_parts(&self, user: Option<u32>, scale: f32) -> Vec<Part> {
        let h = &self.config.hybrid;
        // Short histories say little: popularity counts more for them
        // (+0.5 for a person with 5 items, +0.05 with 90).
        let known = user.map_or(0, |u| self.user_items[u as usize].len()) as f32;
        let popularity = h.popularity + 1.0 / (1.0 + known / 5.0) * f32::from(u8::from(h.popularity > 0.0));
        [
            (Single::CoOccurrence, Source::CoOccurrence, h.co_occurrence),
            (Single::Als, Source::Als, h.als),
            (Single::Content, Source::Content, h.content),
            (Single::Popularity, Source::Popularity, popularity),
        ]
        .into_iter()
        .filter(|(_, _, w)| *w > 0.0)
        .map(|(single, source, w)| Part { source, weight: w * scale, scores: self.single_scores(user, single) })
        .collect()
    }

    /// One person-level source's scores over every item, scaled to 0..1.
    pub(crate) fn single_scores(&self, user: Option<u32>, single: Single) -> Vec<f32> {
        let n = self.items.len();
        let mut s = vec![0f32; n];
        let seeds = self.seeds(user);
        match single {
            Single::CoOccurrence => self.co_occurrence.accumulate(seeds.iter().copied(), &mut s),
            Single::Content => self.content.accumulate(seeds.iter().copied(), &mut s),
            Single::Als => {
                if let Some(u) = user {
                    self.als.score_all(self.als.user(u as usize), &mut s);
                }
            }
            Single::Popularity => {
                let pop = &self.popularity;
                let (max_o, max_t) = (max(&pop.overall), max(&pop.trending));
                // Share of the person's interest per category (slot 0 = uncategorised).
                let mut share = vec![0f32; self.categories.len() + 1];
                let total: f32 = seeds.iter().map(|s| s.1).sum();
                for &(i, w) in &seeds {
                    share[self.items[i as usize].category.map_or(0, |c| c as usize + 1)] += w / total.max(1e-9);
                }
                for (i, v) in s.iter_mut().enumerate() {
                    let base = pop.overall[i] / max_o + 0.5 * pop.trending[i] / max_t;
                    *v = base * (0.25 + share[self.items[i].category.map_or(0, |c| c as usize + 1)]);
                }
            }
        }
        normalise(&mut s);
        s
    }

    /// The person's most recent items with their decayed weights.
    fn seeds(&self, user: Option<u32>) -> Vec<(u32, f32)> {
        let Some(u) = user else { return Vec::new() };
        let mut items: Vec<&crate::data::UserItem> = self.user_items[u as usize].iter().collect();
        if items.len() > self.config.max_items_per_user {
            items.sort_by(|a, b| b.last_at.cmp(&a.last_at).then(a.item.cmp(&b.item)));
            items.truncate(self.config.max_items_per_user);
        }
        items.into_iter().map(|i| (i.item, i.weight)).collect()
    }

    /// Item-to-item scores from `seeds` (weight 1 each), scaled to 0..1.
    fn item_part(&self, source: Source, weight: f32, seeds: &[u32]) -> Part {
        let table = match source {
            Source::BoughtTogether => &self.bought_together,
            Source::Content => &self.content,
            _ => &self.co_occurrence,
        };
        let mut scores = vec![0f32; self.items.len()];
        table.accumulate(seeds.iter().map(|&i| (i, 1.0)), &mut scores);
        normalise(&mut scores);
        Part { source, weight, scores }
    }

    /// Items a person must not see: out of stock, bought non-consumables,
    /// consumables bought too recently. Consumables due for re-purchase come
    /// back in the second list with their boost.
    pub(crate) fn exclusions(&self, user: Option<u32>, now: DateTime<Utc>) -> (Vec<bool>, Vec<u32>) {
        let mut excluded: Vec<bool> = self.items.iter().map(|i| !i.in_stock).collect();
        let mut due = Vec::new();
        if let Some(u) = user {
            for ui in &self.user_items[u as usize] {
                let Some(last) = ui.last_purchase else { continue };
                let item = &self.items[ui.item as usize];
                if !item.consumable {
                    excluded[ui.item as usize] = true;
                    continue;
                }
                let days = (now.timestamp() - last) as f32 / 86_400.0;
                let interval = self.replenish_days[ui.item as usize];
                if days < self.config.replenish_from * interval {
                    excluded[ui.item as usize] = true;
                } else if days <= self.config.replenish_until * interval {
                    due.push(ui.item);
                }
            }
        }
        (excluded, due)
    }

    /// Blends `parts`, applies the rules and returns the top `n`. Without
    /// `full_rules` only the hard exclusions apply (a source measured
    /// alone: no replenishment boost, diversity, fill or pins).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rank(
        &self,
        user: Option<u32>,
        parts: &[Part],
        context: &[u32],
        placement: &Placement,
        n: usize,
        now: DateTime<Utc>,
        full_rules: bool,
    ) -> Vec<Recommendation> {
        if n == 0 {
            return Vec::new();
        }
        let (mut excluded, due) = self.exclusions(user, now);
        for &c in context {
            excluded[c as usize] = true;
        }
        let mut total = vec![0f32; self.items.len()];
        for p in parts {
            for (t, s) in total.iter_mut().zip(&p.scores) {
                *t += p.weight * s;
            }
        }
        let boost: f32 = parts.iter().map(|p| p.weight).sum::<f32>().max(1.0);
        let mut boosted: HashSet<u32> = HashSet::new();
        for &i in due.iter().filter(|_| full_rules) {
            if !excluded[i as usize] {
                total[i as usize] += boost;
                boosted.insert(i);
            }
        }
        let cands: Vec<(u32, f32)> =
            total.iter().enumerate().filter(|&(i, &s)| s > 0.0 && !excluded[i]).map(|(i, &s)| (i as u32, s)).collect();
        let ranked = crate::sources::top_k(cands, (n * 4).max(n + 20));
        let mut chosen: Vec<(u32, f32, Source)> = Vec::with_capacity(n);
        let source_of = |i: u32| {
            if boosted.contains(&i) {
                return Source::Replenishment;
            }
            parts
                .iter()
                .max_by(|a, b| (a.weight * a.scores[i as usize]).total_cmp(&(b.weight * b.scores[i as usize])))
                .map_or(Source::Popularity, |p| p.source)
        };
        let cap = if full_rules { self.config.max_per_category } else { usize::MAX };
        let mut per_category = vec![0usize; self.categories.len()];
        let mut skipped = Vec::new();
        for &(i, s) in &ranked {
            if chosen.len() == n {
                break;
            }
            match self.items[i as usize].category {
                Some(c) if per_category[c as usize] >= cap => skipped.push((i, s)),
                Some(c) => {
                    per_category[c as usize] += 1;
                    chosen.push((i, s, source_of(i)));
                }
                None => chosen.push((i, s, source_of(i))),
            }
        }
        for (i, s) in skipped {
            if chosen.len() == n {
                break;
            }
            chosen.push((i, s, source_of(i)));
        }
        if chosen.len() < n && full_rules {
            let taken: HashSet<u32> = chosen.iter().map(|c| c.0).collect();
            for &i in &self.popular_order {
                if chosen.len() == n {
                    break;
                }
                if !excluded[i as usize] && !taken.contains(&i) {
                    chosen.push((i, 0.0, Source::Popularity));
                }
            }
        }
        let kind = placement.kind().as_str();
        let mut pins: Vec<&crate::Pin> =
            self.config.pins.iter().filter(|p| full_rules && p.placement == kind).collect();
        pins.sort_by_key(|p| p.position);
        for pin in pins {
            let Some(&i) = self.item_index.get(&pin.product) else { continue };
            if excluded[i as usize] {
                continue;
            }
            chosen.retain(|c| c.0 != i);
            let top = chosen.first().map_or(1.0, |c| c.1);
            chosen.insert(pin.position.min(chosen.len()), (i, top, Source::Pinned));
        }
        chosen.truncate(n);
        chosen
            .into_iter()
            .map(|(i, score, source)| {
                let item = &self.items[i as usize];
                Recommendation {
                    product_id: item.id.clone(),
                    score,
                    source,
                    category: item.category.map(|c| self.categories[c as usize].clone()),
                }
            })
            .collect()
    }
}

fn max(v: &[f32]) -> f32 {
    v.iter().copied().fold(0.0, f32::max).max(f32::MIN_POSITIVE)
}

/// Scales to 0..1 by the maximum; negatives (ALS) become 0.
fn normalise(v: &mut [f32]) {
    let m = v.iter().copied().fold(0.0, f32::max);
    if m > 0.0 {
        v.iter_mut().for_each(|x| *x = x.max(0.0) / m);
    } else {
        v.iter_mut().for_each(|x| *x = 0.0);
    }
}
