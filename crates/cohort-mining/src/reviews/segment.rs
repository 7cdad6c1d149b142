//! Chinese word segmentation (jieba-rs) and the terms the classifier sees.
//!
//! Words come from jieba's accurate mode with HMM (new words such as shop
//! slang are still joined). Whitespace and punctuation are dropped except `!`
//! and `?` (full-width forms folded), which carry tone in reviews; Latin
//! letters are lower-cased. Stop words are kept on purpose: 不, 没, 太 and 很
//! decide a review's sentiment.

use std::sync::OnceLock;

use jieba_rs::Jieba;

/// Separator between the two words of a bigram term (never inside a word).
pub const BIGRAM_SEPARATOR: char = ' ';

/// A jieba segmenter with its dictionary loaded (about 0.3 s, so share it).
pub struct Segmenter {
    jieba: Jieba,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter(jieba, default dictionary)")
    }
}

impl Default for Segmenter {
    fn default() -> Self {
        Segmenter::new()
    }
}

impl Segmenter {
    /// A segmenter with jieba's built-in dictionary.
    pub fn new() -> Self {
        Segmenter { jieba: Jieba::new() }
    }

    /// The process-wide segmenter, loaded on first use.
    pub fn shared() -> &'static Segmenter {
        static SHARED: OnceLock<Segmenter> = OnceLock::new();
        SHARED.get_or_init(Segmenter::new)
    }

    /// The normalised words of `text`, in order.
    pub fn words(&self, text: &str) -> Vec<String> {
        // Full-width ASCII (ＯＫ, １２３, ！) folded first, so jieba sees words.
        let text: String = text.trim_start_matches('\u{feff}').chars().map(half_width).collect();
        let mut words = Vec::new();
        for token in self.jieba.cut(&text, true) {
            if let Some(word) = normalise(token.word) {
                words.push(word);
            }
        }
        words
    }
}

/// A token as the model sees it, or `None` for whitespace and punctuation.
fn normalise(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut meaningful = false;
    for c in token.chars() {
        if c.is_alphanumeric() || c == '!' || c == '?' {
            meaningful = true;
            out.extend(c.to_lowercase());
        } else if !c.is_whitespace() && !c.is_ascii_punctuation() && !is_cjk_punctuation(c) {
            out.push(c);
        }
    }
    meaningful.then_some(out)
}

/// Full-width ASCII (ＡＢＣ１２３！？) to its half-width form.
fn half_width(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn is_cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303f}' | '\u{2010}'..='\u{206f}' | '\u{fe30}'..='\u{fe4f}' | '\u{ff00}'..='\u{ff65}')
}

/// The classifier's terms for a review: every word, and every pair of
/// neighbouring words joined by [`BIGRAM_SEPARATOR`] ("不 好" tells more
/// than 不 and 好 apart).
pub fn terms(words: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len() * 2);
    out.extend(words.iter().cloned());
    for pair in words.windows(2) {
        let mut t = String::with_capacity(pair[0].len() + pair[1].len() + 1);
        t.push_str(&pair[0]);
        t.push(BIGRAM_SEPARATOR);
        t.push_str(&pair[1]);
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_punctuation_keep_tone_and_negation() {
        let s = Segmenter::shared();
        let words = s.words("\u{feff}物流太慢了，质量也不好！！ＯＫ");
        assert!(words.contains(&"物流".to_string()), "{words:?}");
        assert!(words.contains(&"不".to_string()) || words.contains(&"不好".to_string()), "{words:?}");
        assert!(words.iter().all(|w| w != "，" && !w.is_empty()), "{words:?}");
        assert!(words.contains(&"!".to_string()) || words.contains(&"!!".to_string()), "{words:?}");
        assert!(words.contains(&"ok".to_string()), "{words:?}");
        assert_eq!(s.words("ＯＫ，１２３"), vec!["ok", "123"]);
    }

    #[test]
    fn terms_are_words_then_bigrams() {
        let w: Vec<String> = ["很", "不", "好"].iter().map(|s| s.to_string()).collect();
        assert_eq!(terms(&w), vec!["很", "不", "好", "很 不", "不 好"]);
    }
}
