//! FP-growth (Han, Pei, Yin 2000): frequent itemsets without candidate
//! generation.
//!
//! One pass counts items; a second inserts every basket, its frequent items
//! in descending frequency, into a prefix tree whose header table links
//! each item's nodes. Mining walks the header table from the rarest item up:
//! each item's prefix paths form its conditional pattern base, from which a
//! conditional tree is built and mined recursively. A tree that is a single
//! path yields all its combinations directly.
//!
//! Items are dense `u32` ids; inside a tree they are renumbered `0..n` by
//! descending frequency (ancestors always have smaller ids), so counting a
//! conditional base needs only a `Vec` as long as the item's id.

use serde::{Deserialize, Serialize};

use crate::{MiningError, Result};

const NIL: u32 = u32::MAX;

/// A frequent itemset: sorted item ids and the number of baskets holding all
/// of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Itemset {
    /// Item ids, ascending.
    pub items: Vec<u32>,
    /// Baskets containing every item.
    pub count: u64,
}

/// The result of [`fp_growth`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequentItemsets {
    /// Baskets mined (empty ones included): the support denominator.
    pub transactions: u64,
    /// The smallest count with `count / transactions ≥ min_support`.
    pub min_count: u64,
    /// Every itemset of one item or more at or above `min_count`, by size,
    /// then by item ids.
    pub itemsets: Vec<Itemset>,
}

impl FrequentItemsets {
    /// Support of an itemset's count.
    pub fn support(&self, count: u64) -> f64 {
        count as f64 / self.transactions as f64
    }

    /// How many itemsets of each size (index 0 = one item).
    pub fn count_by_size(&self) -> Vec<usize> {
        let mut sizes = Vec::new();
        for set in &self.itemsets {
            if sizes.len() < set.items.len() {
                sizes.resize(set.items.len(), 0);
            }
            sizes[set.items.len() - 1] += 1;
        }
        sizes
    }
}

/// The smallest basket count whose support `count / transactions` is at
/// least `min_support` (compared as floating point, as mlxtend and arules do).
pub fn min_count(min_support: f64, transactions: u64) -> u64 {
    let n = transactions as f64;
    let mut count = (min_support * n).ceil().max(1.0) as u64;
    while count > 1 && (count - 1) as f64 / n >= min_support {
        count -= 1;
    }
    while (count as f64 / n) < min_support {
        count += 1;
    }
    count
}

/// Every itemset (one item or more, at most `max_len` items when given)
/// contained in at least `min_support` of `baskets`. Each basket is a list
/// of item ids (duplicates are ignored). The output is deterministic.
pub fn fp_growth(baskets: &[Vec<u32>], min_support: f64, max_len: Option<usize>) -> Result<FrequentItemsets> {
    if !(min_support > 0.0 && min_support <= 1.0) {
        return Err(MiningError::InvalidThreshold {
            field: "min_support",
            value: min_support,
            reason: "expected a share in (0, 1]",
        });
    }
    if baskets.is_empty() {
        return Err(MiningError::NoBaskets("the basket list is empty"));
    }
    let transactions = baskets.len() as u64;
    let min_count = min_count(min_support, transactions);
    let max_len = max_len.unwrap_or(usize::MAX);
    let mut itemsets = Vec::new();
    if max_len == 0 {
        return Ok(FrequentItemsets { transactions, min_count, itemsets });
    }

    // Pass 1: item counts (each item once per basket).
    let universe = baskets.iter().flatten().max().map_or(0, |&m| m as usize + 1);
    let mut counts = vec![0u64; universe];
    let mut seen = vec![NIL; universe];
    for (b, basket) in baskets.iter().enumerate() {
        for &item in basket {
            if seen[item as usize] != b as u32 {
                seen[item as usize] = b as u32;
                counts[item as usize] += 1;
            }
        }
    }
    let mut frequent: Vec<u32> = (0..universe as u32).filter(|&i| counts[i as usize] >= min_count).collect();
    frequent.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
    let mut rank = vec![NIL; universe];
    for (r, &item) in frequent.iter().enumerate() {
        rank[item as usize] = r as u32;
    }

    // Pass 2: the tree.
    let support = frequent.iter().map(|&i| counts[i as usize]).collect();
    let mut tree = FpTree::new(frequent, support);
    let mut path = Vec::new();
    for basket in baskets {
        path.clear();
        path.extend(basket.iter().map(|&i| rank[i as usize]).filter(|&r| r != NIL));
        path.sort_unstable();
        path.dedup();
        if !path.is_empty() {
            tree.insert(&path, 1);
        }
    }

    let mut suffix = Vec::new();
    mine(&tree, &mut suffix, min_count, max_len, &mut itemsets);
    itemsets.sort_unstable_by(|a, b| a.items.len().cmp(&b.items.len()).then_with(|| a.items.cmp(&b.items)));
    Ok(FrequentItemsets { transactions, min_count, itemsets })
}

#[derive(Debug, Clone, Copy)]
struct Node {
    item: u32,
    count: u64,
    parent: u32,
    child: u32,
    sibling: u32,
}

/// An FP-tree over local item ids `0..labels.len()` (0 = most frequent).
struct FpTree {
    /// Local id → global item id.
    labels: Vec<u32>,
    /// Local id → count in this tree.
    support: Vec<u64>,
    /// Node 0 is the root.
    nodes: Vec<Node>,
    /// Header table: local id → its nodes.
    heads: Vec<Vec<u32>>,
}

impl FpTree {
    fn new(labels: Vec<u32>, support: Vec<u64>) -> FpTree {
        let heads = vec![Vec::new(); labels.len()];
        let root = Node { item: NIL, count: 0, parent: NIL, child: NIL, sibling: NIL };
        FpTree { labels, support, nodes: vec![root], heads }
    }

    /// Adds `path` (ascending local ids) `count` times.
    fn insert(&mut self, path: &[u32], count: u64) {
        let mut at = 0u32;
        for &item in path {
            let mut child = self.nodes[at as usize].child;
            while child != NIL && self.nodes[child as usize].item != item {
                child = self.nodes[child as usize].sibling;
            }
            if child == NIL {
                child = self.nodes.len() as u32;
                let sibling = self.nodes[at as usize].child;
                self.nodes.push(Node { item, count, parent: at, child: NIL, sibling });
                self.nodes[at as usize].child = child;
                self.heads[item as usize].push(child);
            } else {
                self.nodes[child as usize].count += count;
            }
            at = child;
        }
    }

    /// The nodes root → leaf when the tree is one path.
    fn single_path(&self) -> Option<Vec<u32>> {
        let mut path = Vec::new();
        let mut at = self.nodes[0].child;
        while at != NIL {
            let node = self.nodes[at as usize];
            if node.sibling != NIL {
                return None;
            }
            path.push(at);
            at = node.child;
        }
        Some(path)
    }

    /// The conditional tree of local item `item`: its prefix paths, keeping
    /// the items frequent among them.
    fn conditional(&self, item: u32, min_count: u64) -> Option<FpTree> {
        let mut counts = vec![0u64; item as usize];
        let mut flat: Vec<u32> = Vec::new();
        let mut paths: Vec<(usize, usize, u64)> = Vec::with_capacity(self.heads[item as usize].len());
        for &node in &self.heads[item as usize] {
            let count = self.nodes[node as usize].count;
            let start = flat.len();
            let mut at = self.nodes[node as usize].parent;
            while at != 0 {
                let ancestor = self.nodes[at as usize];
                counts[ancestor.item as usize] += count;
                flat.push(ancestor.item);
                at = ancestor.parent;
            }
            if flat.len() > start {
                paths.push((start, flat.len(), count));
            }
        }
        let mut remap = vec![NIL; item as usize];
        let mut labels = Vec::new();
        let mut support = Vec::new();
        for (local, &count) in counts.iter().enumerate() {
            if count >= min_count {
                remap[local] = labels.len() as u32;
                labels.push(self.labels[local]);
                support.push(count);
            }
        }
        if labels.is_empty() {
            return None;
        }
        let mut tree = FpTree::new(labels, support);
        let mut path = Vec::new();
        for (start, end, count) in paths {
            path.clear();
            // Stored leaf → root; ids ascend root → leaf.
            path.extend(flat[start..end].iter().rev().map(|&i| remap[i as usize]).filter(|&i| i != NIL));
            if !path.is_empty() {
                tree.insert(&path, count);
            }
        }
        Some(tree)
    }
}

fn emit(suffix: &[u32], count: u64, out: &mut Vec<Itemset>) {
    let mut items = suffix.to_vec();
    items.sort_unstable();
    out.push(Itemset { items, count });
}

fn mine(tree: &FpTree, suffix: &mut Vec<u32>, min_count: u64, max_len: usize, out: &mut Vec<Itemset>) {
    if let Some(path) = tree.single_path() {
        let items: Vec<(u32, u64)> = path
            .iter()
            .map(|&n| (tree.labels[tree.nodes[n as usize].item as usize], tree.nodes[n as usize].count))
            .collect();
        combinations(&items, 0, suffix, u64::MAX, max_len, out);
        return;
    }
    for local in (0..tree.labels.len() as u32).rev() {
        suffix.push(tree.labels[local as usize]);
        emit(suffix, tree.support[local as usize], out);
        if suffix.len() < max_len {
            if let Some(conditional) = tree.conditional(local, min_count) {
                mine(&conditional, suffix, min_count, max_len, out);
            }
        }
        suffix.pop();
    }
}

/// Every non-empty combination of a single path's nodes (from `start` on),
/// joined to `suffix`; its count is that of its deepest node.
fn combinations(
    path: &[(u32, u64)],
    start: usize,
    suffix: &mut Vec<u32>,
    count: u64,
    max_len: usize,
    out: &mut Vec<Itemset>,
) {
    if suffix.len() >= max_len {
        return;
    }
    for (i, &(item, node_count)) in path.iter().enumerate().skip(start) {
        suffix.push(item);
        let count = count.min(node_count);
        emit(suffix, count, out);
        combinations(path, i + 1, suffix, count, max_len, out);
        suffix.pop();
    }
}
