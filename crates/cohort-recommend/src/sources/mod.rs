//! Candidate sources. Each turns the indexed interactions into something
//! that scores items for a person or next to an item:
//! - [`cooccur`]: item-to-item co-occurrence (per person and per basket);
//! - [`als`]: implicit-feedback matrix factorisation;
//! - [`content`]: similarity from category, price band and name words;
//! - [`popular`]: popularity and trending, overall and per category.
//!
//! Item-to-item sources share one form, [`Neighbours`]: the top-k similar
//! items of every item, scored for a person by summing their similarities
//! weighted by the person's interest in each item they touched.

pub(crate) mod als;
pub(crate) mod content;
pub(crate) mod cooccur;
pub(crate) mod popular;

use serde::{Deserialize, Serialize};

/// The top-k neighbours of every item, in compressed rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Neighbours {
    offsets: Vec<u32>,
    ids: Vec<u32>,
    sims: Vec<f32>,
}

impl Neighbours {
    /// From one list per item, each sorted best first.
    pub fn from_lists(lists: Vec<Vec<(u32, f32)>>) -> Self {
        let mut n = Neighbours { offsets: Vec::with_capacity(lists.len() + 1), ..Default::default() };
        n.offsets.push(0);
        for list in lists {
            for (id, sim) in list {
                n.ids.push(id);
                n.sims.push(sim);
            }
            n.offsets.push(n.ids.len() as u32);
        }
        n
    }

    /// The neighbours of `item`, best first (none for an unknown item).
    pub fn of(&self, item: u32) -> impl Iterator<Item = (u32, f32)> + '_ {
        let i = item as usize;
        let (a, b) = match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => (a as usize, b as usize),
            _ => (0, 0),
        };
        self.ids[a..b].iter().copied().zip(self.sims[a..b].iter().copied())
    }

    /// Adds `weight × sim` to `scores` for every neighbour of every
    /// `(item, weight)` in `seeds`.
    pub fn accumulate(&self, seeds: impl IntoIterator<Item = (u32, f32)>, scores: &mut [f32]) {
        for (item, weight) in seeds {
            for (j, sim) in self.of(item) {
                scores[j as usize] += weight * sim;
            }
        }
    }
}

/// Keeps the `k` best `(id, score)` pairs, best first (ties by id).
pub(crate) fn top_k(mut v: Vec<(u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if v.len() > k {
        v.select_nth_unstable_by(k, cmp);
        v.truncate(k);
    }
    v.sort_unstable_by(cmp);
    v
}

/// Runs `f` over `0..n` split into one contiguous range per core and
/// concatenates the results in order (deterministic whatever the core
/// count).
pub(crate) fn parallel_ranges<T: Send>(n: usize, f: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).clamp(1, 16);
    if threads == 1 || n < 64 {
        return f(0..n);
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..threads).map(|t| (t * chunk).min(n)..((t + 1) * chunk).min(n)).map(|r| s.spawn(|| f(r))).collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker thread panicked")).collect()
    })
}
