//! Content-based similarity: two products are alike when they share a
//! category, a price band (prices within a factor of two, inside the same
//! category), and words of their names. Each feature is weighted by its
//! inverse document frequency; items are compared by the cosine of those
//! sparse vectors. Features carried by more than `max_df` items are skipped
//! when looking for neighbours (they bound the quadratic cost and say
//! little).

use std::collections::HashMap;

use super::{parallel_ranges, top_k, Neighbours};
use crate::data::ItemInfo;

/// Name words that say nothing about the product.
const STOP_WORDS: &[&str] = &["AND", "THE", "FOR", "WITH", "SET", "OF", "IN", "SMALL", "LARGE", "MINI", "DESIGN"];

/// The feature strings of one item (category, category × price band, words).
fn features(item: &ItemInfo) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    if let Some(c) = item.category {
        out.push((format!("c:{c}"), 2.0));
        if let Some(p) = item.price_fen {
            let band = (p as f64).log2().floor() as i64;
            out.push((format!("cp:{c}:{band}"), 1.0));
        }
    } else if let Some(p) = item.price_fen {
        let band = (p as f64).log2().floor() as i64;
        out.push((format!("p:{band}"), 0.5));
    }
    if let Some(name) = &item.name {
        let upper = name.to_uppercase();
        let mut words: Vec<&str> = upper
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()) && !STOP_WORDS.contains(w))
            .collect();
        words.sort_unstable();
        words.dedup();
        out.extend(words.into_iter().map(|w| (format!("w:{w}"), 1.0)));
        // Names in Chinese have no spaces: their character pairs are the words.
        let chars: Vec<char> = name.chars().filter(|c| !c.is_ascii()).collect();
        let mut pairs: Vec<String> = chars.windows(2).map(|w| format!("z:{}{}", w[0], w[1])).collect();
        pairs.sort_unstable();
        pairs.dedup();
        out.extend(pairs.into_iter().map(|p| (p, 0.5)));
    }
    out
}

/// The top-`k` content neighbours of every item.
pub(crate) fn build(items: &[ItemInfo], k: usize, max_df: usize) -> Neighbours {
    let mut vocab: HashMap<String, u32> = HashMap::new();
    let raw: Vec<Vec<(u32, f32)>> = items
        .iter()
        .map(|item| {
            features(item)
                .into_iter()
                .map(|(f, w)| {
                    let next = vocab.len() as u32;
                    (*vocab.entry(f).or_insert(next), w)
                })
                .collect()
        })
        .collect();
    let mut df = vec![0usize; vocab.len()];
    for v in &raw {
        for &(f, _) in v {
            df[f as usize] += 1;
        }
    }
    let n = items.len().max(1) as f32;
    // idf-weighted, L2-normalised vectors.
    let vectors: Vec<Vec<(u32, f32)>> = raw
        .into_iter()
        .map(|v| {
            let mut v: Vec<(u32, f32)> =
                v.into_iter().map(|(f, w)| (f, w * (1.0 + (n / df[f as usize] as f32).ln()))).collect();
            let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            v.iter_mut().for_each(|(_, w)| *w /= norm.max(f32::MIN_POSITIVE));
            v
        })
        .collect();
    let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); vocab.len()];
    for (i, v) in vectors.iter().enumerate() {
        for &(f, w) in v {
            if df[f as usize] <= max_df && df[f as usize] >= 2 {
                postings[f as usize].push((i as u32, w));
            }
        }
    }
    let lists = parallel_ranges(items.len(), |range| {
        let mut acc = vec![0f32; items.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut out = Vec::with_capacity(range.len());
        for a in range {
            for &(f, wa) in &vectors[a] {
                for &(b, wb) in &postings[f as usize] {
                    if b as usize != a {
                        if acc[b as usize] == 0.0 {
                            touched.push(b);
                        }
                        acc[b as usize] += wa * wb;
                    }
                }
            }
            let cands: Vec<(u32, f32)> = touched.iter().map(|&b| (b, acc[b as usize])).filter(|c| c.1 > 0.0).collect();
            for &b in &touched {
                acc[b as usize] = 0.0;
            }
            touched.clear();
            out.push(top_k(cands, k));
        }
        out
    });
    Neighbours::from_lists(lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::ProductId;

    fn item(id: &str, category: Option<u32>, price: Option<i64>, name: &str) -> ItemInfo {
        ItemInfo {
            id: ProductId::new(id).unwrap(),
            category,
            price_fen: price,
            name: Some(name.into()),
            consumable: false,
            in_stock: true,
        }
    }

    #[test]
    fn same_category_and_price_band_and_words_rank_first() {
        let items = vec![
            item("dress-a", Some(0), Some(19_900), "Red summer dress"),
            item("dress-b", Some(0), Some(21_000), "Blue summer dress"),
            item("dress-c", Some(0), Some(99_000), "Silk evening gown"),
            item("pan", Some(1), Some(20_000), "Frying pan"),
            item("lamp", None, Some(20_000), "Red lamp"),
        ];
        let n = build(&items, 10, 100);
        let of0: Vec<u32> = n.of(0).map(|(i, _)| i).collect();
        assert_eq!(of0[0], 1, "{of0:?}");
        assert!(of0.contains(&2), "same category, other band: still similar");
        assert!(!of0.contains(&3), "another category with nothing shared is not similar");
        let pos = |x: u32| of0.iter().position(|&i| i == x);
        assert!(pos(2) < pos(4).or(Some(usize::MAX)), "category beats one shared word");
    }

    #[test]
    fn chinese_names_match_on_character_pairs() {
        let items = vec![
            item("a", None, None, "婴儿纸尿裤 L码"),
            item("b", None, None, "纸尿裤 拉拉裤 XL"),
            item("c", None, None, "不锈钢炒锅"),
        ];
        let n = build(&items, 10, 100);
        assert_eq!(n.of(0).next().map(|x| x.0), Some(1));
        assert!(n.of(2).next().is_none());
    }
}
