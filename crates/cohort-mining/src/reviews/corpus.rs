//! Labelled reviews (the `online_shopping_10_cats` layout: `cat,label,review`)
//! and the deterministic stratified train / held-out split.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{MiningError, Result};

/// One review with its sentiment label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledReview {
    /// Product category (书籍, 衣服, 酒店, …), empty when unknown.
    pub category: String,
    /// `true` for a positive review.
    pub positive: bool,
    /// The text.
    pub text: String,
}

impl LabelledReview {
    /// A review.
    pub fn new(category: &str, positive: bool, text: &str) -> Self {
        LabelledReview { category: category.to_string(), positive, text: text.to_string() }
    }
}

/// Reads a labelled CSV with a header naming `label` and `review` (and
/// optionally `cat`); `.gz` is read as gzip. `label` is `1` (positive) or
/// `0` (negative). Rows with an empty review are skipped (the corpus has
/// one); any other bad row is an error naming its line.
pub fn read_labelled_reviews(path: &Path) -> Result<Vec<LabelledReview>> {
    let fail = |reason: String| MiningError::ReviewFile { path: path.to_path_buf(), reason };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers = csv.headers().map_err(|e| fail(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let label_col = column("label").ok_or_else(|| fail("no `label` column in the header".into()))?;
    let review_col = column("review").ok_or_else(|| fail("no `review` column in the header".into()))?;
    let cat_col = column("cat");
    let mut out = Vec::new();
    for (i, row) in csv.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| fail(format!("line {line}: {e}")))?;
        let text = row.get(review_col).unwrap_or("").trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        let positive = match row.get(label_col).map(str::trim) {
            Some("1") => true,
            Some("0") => false,
            other => return Err(fail(format!("line {line}: `label` must be 0 or 1, got {other:?}"))),
        };
        let category = cat_col.and_then(|c| row.get(c)).unwrap_or("").to_string();
        out.push(LabelledReview { category, positive, text: text.to_string() });
    }
    Ok(out)
}

/// SplitMix64: a fixed, seedable mix so splits and training order are
/// identical on every machine.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Indices of the training and held-out reviews: within every (category,
/// label) stratum, reviews are ordered by a seeded hash of their index and
/// the first `round(held_out × n)` are held out, so each category keeps its
/// share of positives and negatives on both sides.
pub fn stratified_split(reviews: &[LabelledReview], held_out: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut strata: BTreeMap<(&str, bool), Vec<usize>> = BTreeMap::new();
    for (i, r) in reviews.iter().enumerate() {
        strata.entry((r.category.as_str(), r.positive)).or_default().push(i);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (_, mut idx) in strata {
        idx.sort_by_key(|&i| (mix(seed ^ mix(i as u64)), i));
        let k = (held_out.clamp(0.0, 1.0) * idx.len() as f64).round() as usize;
        test.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_and_deterministic() {
        let mut reviews = Vec::new();
        for i in 0..100 {
            reviews.push(LabelledReview::new(if i % 4 == 0 { "书籍" } else { "衣服" }, i % 2 == 0, "好"));
        }
        let (train, test) = stratified_split(&reviews, 0.2, 7);
        assert_eq!(train.len() + test.len(), 100);
        assert_eq!(test.len(), 20); // 25 书籍 positives → 5; 25 衣服+ → 5; 50 衣服- → 10
        let books_pos = test.iter().filter(|&&i| reviews[i].category == "书籍" && reviews[i].positive).count();
        assert_eq!(books_pos, 5);
        assert_eq!(stratified_split(&reviews, 0.2, 7), (train, test.clone()));
        assert_ne!(stratified_split(&reviews, 0.2, 8).1, test);
    }

    #[test]
    fn reads_labelled_csv_and_names_bad_lines() {
        let dir = std::env::temp_dir().join(format!("cohort-reviews-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.csv");
        std::fs::write(&good, "cat,label,review\n衣服,1,\u{feff}很好\n衣服,0,\n衣服,0,\"太差, 退货\"\n").unwrap();
        let r = read_labelled_reviews(&good).unwrap();
        assert_eq!(
            r,
            vec![LabelledReview::new("衣服", true, "很好"), LabelledReview::new("衣服", false, "太差, 退货")]
        );
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "cat,label,review\n衣服,2,好\n").unwrap();
        let e = read_labelled_reviews(&bad).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`label`"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
