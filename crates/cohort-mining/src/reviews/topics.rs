//! Complaint topics: which share of bad reviews mention logistics, size,
//! quality, service, price…, overall and per category, and which words set
//! bad reviews apart from good ones (lift and χ² against positive reviews).
//!
//! Topics come from a keyword lexicon ([`TopicLexicon::builtin`], or one of
//! the shop's own). A keyword of two characters or more matches anywhere in
//! the text (偏大 inside 有点偏大); a one-character keyword (坏, 贵, 卡) must
//! be a whole jieba word, so 贵 does not fire on 贵宾 or 宝贵.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::corpus::LabelledReview;
use super::segment::Segmenter;

/// One complaint topic and its keywords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// Stable key (`logistics`, `size`, …).
    pub key: String,
    /// Readable name (物流 / logistics).
    pub name: String,
    /// Words that put a review under this topic.
    pub keywords: Vec<String>,
}

/// The topics a review can be filed under (a review may mention several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicLexicon {
    /// Topics, in report order.
    pub topics: Vec<Topic>,
}

const BUILTIN: &[(&str, &str, &[&str])] = &[
    (
        "logistics",
        "物流 logistics",
        &[
            "物流", "快递", "发货", "送货", "配送", "包装", "运输", "到货", "派送", "签收", "破损", "压坏", "送到",
            "顺丰", "圆通", "申通", "韵达",
        ],
    ),
    (
        "size",
        "尺码 size",
        &[
            "尺码",
            "尺寸",
            "码数",
            "号码",
            "偏大",
            "偏小",
            "大了",
            "小了",
            "太大",
            "太小",
            "合身",
            "大一号",
            "小一号",
            "紧",
        ],
    ),
    (
        "quality",
        "质量 quality",
        &[
            "质量", "做工", "坏", "坏了", "破", "开线", "线头", "掉色", "褪色", "起球", "瑕疵", "次品", "劣质", "故障",
            "毛病", "异味", "材质",
        ],
    ),
    (
        "service",
        "服务 service",
        &["客服", "态度", "售后", "服务", "退货", "换货", "退款", "商家", "卖家", "不理", "投诉", "前台", "服务员"],
    ),
    ("price", "价格 price", &["价格", "贵", "降价", "价钱", "差价", "性价比", "不值", "便宜", "涨价", "坑"]),
    ("authenticity", "真伪 authenticity", &["假货", "正品", "假的", "山寨", "盗版", "仿冒", "翻新"]),
    (
        "freshness",
        "新鲜/口味 freshness & taste",
        &["新鲜", "变质", "过期", "烂", "腐烂", "口感", "味道", "难吃", "难喝", "酸", "坏果", "发霉"],
    ),
    (
        "performance",
        "性能 performance",
        &[
            "死机",
            "卡",
            "很卡",
            "发热",
            "发烫",
            "电池",
            "续航",
            "充电",
            "蓝屏",
            "系统",
            "屏幕",
            "散热",
            "反应慢",
            "重启",
        ],
    ),
    (
        "room",
        "房间设施 room & facilities",
        &["房间", "隔音", "卫生", "设施", "早餐", "空调", "床", "热水", "噪音", "装修", "陈旧", "洗澡"],
    ),
];

/// Whether `word` is the one-character keyword `k` with a degree word or
/// particle attached, as jieba joins them: 太贵, 很卡, 坏了, 不贵.
fn modified(word: &str, k: char) -> bool {
    const MODIFIERS: &str = "太很好真超挺偏较有不了掉死";
    let mut chars = word.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(a), Some(b), None) => (b == k && MODIFIERS.contains(a)) || (a == k && MODIFIERS.contains(b)),
        _ => false,
    }
}

/// Function words and fillers never listed as complaint keywords: they set
/// bad reviews apart only because bad reviews are longer.
const NOT_KEYWORDS: &[&str] = &[
    "但是", "没有", "就是", "不过", "可是", "而且", "还是", "怎么", "什么", "这个", "那个", "一个", "这样", "因为",
    "所以", "如果", "已经", "还有", "自己", "我们", "你们", "他们", "现在", "时候", "一下", "感觉", "觉得", "东西",
    "知道", "只能", "以后", "然后", "结果", "竟然", "居然", "一点", "真是", "实在", "简直", "根本", "本来", "而且",
];

impl Default for TopicLexicon {
    fn default() -> Self {
        TopicLexicon::builtin()
    }
}

impl TopicLexicon {
    /// Cohort's built-in topics: logistics, size, quality, service, price,
    /// and from the review corpus authenticity, freshness & taste,
    /// performance (devices) and room & facilities (hotels).
    pub fn builtin() -> Self {
        TopicLexicon {
            topics: BUILTIN
                .iter()
                .map(|(key, name, words)| Topic {
                    key: key.to_string(),
                    name: name.to_string(),
                    keywords: words.iter().map(|w| w.to_string()).collect(),
                })
                .collect(),
        }
    }

    /// Indices of the topics `text` (segmented into `words`) mentions.
    pub fn mentions(&self, text: &str, words: &[String]) -> Vec<usize> {
        let whole: HashSet<&str> = words.iter().map(String::as_str).collect();
        let hit = |k: &String| {
            let mut chars = k.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => whole.contains(k.as_str()) || words.iter().any(|w| modified(w, c)),
                _ => text.contains(k.as_str()),
            }
        };
        self.topics.iter().enumerate().filter(|(_, t)| t.keywords.iter().any(hit)).map(|(i, _)| i).collect()
    }

    /// The key of the first topic whose keywords include `word`, if any.
    fn topic_of(&self, word: &str) -> Option<&str> {
        self.topics.iter().find(|t| t.keywords.iter().any(|k| k == word)).map(|t| t.key.as_str())
    }
}

/// How a topic report is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicOptions {
    /// Complaint keywords listed overall.
    pub top_keywords: usize,
    /// Complaint keywords listed per category.
    pub top_keywords_per_category: usize,
    /// A word is a keyword candidate when at least this many bad reviews
    /// hold it.
    pub min_count: usize,
}

impl Default for TopicOptions {
    fn default() -> Self {
        TopicOptions { top_keywords: 20, top_keywords_per_category: 5, min_count: 5 }
    }
}

/// How often one topic is mentioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicShare {
    /// Topic key.
    pub key: String,
    /// Topic name.
    pub name: String,
    /// Bad reviews mentioning it.
    pub negatives: usize,
    /// Share of bad reviews mentioning it.
    pub share: f64,
    /// Share of good reviews mentioning it.
    pub positive_share: f64,
    /// `share / positive_share` (add-½ smoothed; 0 when no bad review
    /// mentions it): above 1, a complaint topic.
    pub lift: f64,
}

/// A word that sets bad reviews apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplaintKeyword {
    /// The word.
    pub word: String,
    /// Bad reviews holding it.
    pub negatives: usize,
    /// Good reviews holding it.
    pub positives: usize,
    /// Share of bad reviews holding it.
    pub negative_share: f64,
    /// Share of good reviews holding it.
    pub positive_share: f64,
    /// `negative_share / positive_share` (add-½ smoothed).
    pub lift: f64,
    /// Pearson χ² of the 2×2 table (word present, review bad).
    pub chi2: f64,
    /// The lexicon topic the word belongs to, if any.
    pub topic: Option<String>,
}

/// Topics and keywords of one category's reviews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryTopics {
    /// The category (empty: none given).
    pub category: String,
    /// Its bad reviews.
    pub negatives: usize,
    /// Its good reviews.
    pub positives: usize,
    /// Topic shares, most mentioned first.
    pub topics: Vec<TopicShare>,
    /// Its top complaint keywords.
    pub keywords: Vec<ComplaintKeyword>,
}

/// What bad reviews complain about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicReport {
    /// Bad reviews read.
    pub negatives: usize,
    /// Good reviews read.
    pub positives: usize,
    /// Topic shares among bad reviews, most mentioned first.
    pub topics: Vec<TopicShare>,
    /// Share of bad reviews that mention no topic.
    pub untagged_share: f64,
    /// Top complaint keywords by χ² (lift > 1 only).
    pub keywords: Vec<ComplaintKeyword>,
    /// The same per category, largest first.
    pub per_category: Vec<CategoryTopics>,
}

#[derive(Default)]
struct Tally {
    negatives: usize,
    positives: usize,
    topic_neg: Vec<usize>,
    topic_pos: Vec<usize>,
    untagged: usize,
    word_neg: HashMap<String, usize>,
    word_pos: HashMap<String, usize>,
}

impl Tally {
    fn new(topics: usize) -> Self {
        Tally { topic_neg: vec![0; topics], topic_pos: vec![0; topics], ..Tally::default() }
    }

    fn add(&mut self, positive: bool, topics: &[usize], words: &HashSet<&str>) {
        let (n, per_topic, per_word) = if positive {
            (&mut self.positives, &mut self.topic_pos, &mut self.word_pos)
        } else {
            (&mut self.negatives, &mut self.topic_neg, &mut self.word_neg)
        };
        *n += 1;
        for &t in topics {
            per_topic[t] += 1;
        }
        for w in words {
            *per_word.entry((*w).to_string()).or_default() += 1;
        }
        if !positive && topics.is_empty() {
            self.untagged += 1;
        }
    }

    fn shares(&self, lexicon: &TopicLexicon) -> Vec<TopicShare> {
        let mut out: Vec<TopicShare> = lexicon
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| TopicShare {
                key: t.key.clone(),
                name: t.name.clone(),
                negatives: self.topic_neg[i],
                share: ratio(self.topic_neg[i], self.negatives),
                positive_share: ratio(self.topic_pos[i], self.positives),
                lift: smoothed_lift(self.topic_neg[i], self.negatives, self.topic_pos[i], self.positives),
            })
            .collect();
        out.sort_by(|a, b| b.negatives.cmp(&a.negatives).then_with(|| a.key.cmp(&b.key)));
        out
    }

    fn keywords(&self, lexicon: &TopicLexicon, top: usize, min_count: usize) -> Vec<ComplaintKeyword> {
        let (nn, np) = (self.negatives, self.positives);
        let mut out: Vec<ComplaintKeyword> = self
            .word_neg
            .iter()
            .filter(|&(_, &a)| a >= min_count)
            .map(|(w, &a)| {
                let c = self.word_pos.get(w).copied().unwrap_or(0);
                ComplaintKeyword {
                    word: w.clone(),
                    negatives: a,
                    positives: c,
                    negative_share: ratio(a, nn),
                    positive_share: ratio(c, np),
                    lift: smoothed_lift(a, nn, c, np),
                    chi2: chi_square(a, nn - a, c, np - c),
                    topic: lexicon.topic_of(w).map(str::to_string),
                }
            })
            .filter(|k| k.lift > 1.0)
            .collect();
        out.sort_by(|a, b| b.chi2.total_cmp(&a.chi2).then_with(|| a.word.cmp(&b.word)));
        out.truncate(top);
        out
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Add-½ smoothed ratio of the two shares; 0 when no bad review has it
/// (smoothing alone would make an unmentioned topic look like a complaint).
fn smoothed_lift(neg: usize, n_neg: usize, pos: usize, n_pos: usize) -> f64 {
    if neg == 0 {
        return 0.0;
    }
    ((neg as f64 + 0.5) / (n_neg as f64 + 1.0)) / ((pos as f64 + 0.5) / (n_pos as f64 + 1.0))
}

/// χ² of the table [[a, b], [c, d]]: a = bad with word, b = bad without,
/// c = good with word, d = good without.
fn chi_square(a: usize, b: usize, c: usize, d: usize) -> f64 {
    let (a, b, c, d) = (a as f64, b as f64, c as f64, d as f64);
    let n = a + b + c + d;
    let den = (a + b) * (c + d) * (a + c) * (b + d);
    if den == 0.0 {
        0.0
    } else {
        n * (a * d - b * c).powi(2) / den
    }
}

/// A word worth listing as a complaint keyword: two characters or more,
/// with a letter, not a filler.
fn keyword_candidate(w: &str) -> bool {
    w.chars().count() >= 2 && w.chars().any(char::is_alphabetic) && !NOT_KEYWORDS.contains(&w)
}

/// Topic shares and complaint keywords of labelled reviews (the label may
/// come from the data, a rating, or [`super::SentimentModel::classify`]).
pub fn complaint_topics(
    reviews: &[LabelledReview],
    lexicon: &TopicLexicon,
    segmenter: &Segmenter,
    options: TopicOptions,
) -> TopicReport {
    let mut all = Tally::new(lexicon.topics.len());
    let mut per: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in reviews {
        let words = segmenter.words(&r.text);
        let topics = lexicon.mentions(&r.text, &words);
        let distinct: HashSet<&str> = words.iter().map(String::as_str).filter(|w| keyword_candidate(w)).collect();
        all.add(r.positive, &topics, &distinct);
        per.entry(r.category.as_str())
            .or_insert_with(|| Tally::new(lexicon.topics.len()))
            .add(r.positive, &topics, &distinct);
    }
    let mut per_category: Vec<CategoryTopics> = per
        .into_iter()
        .map(|(category, t)| CategoryTopics {
            category: category.to_string(),
            negatives: t.negatives,
            positives: t.positives,
            topics: t.shares(lexicon),
            keywords: t.keywords(lexicon, options.top_keywords_per_category, options.min_count),
        })
        .collect();
    per_category.sort_by(|a, b| b.negatives.cmp(&a.negatives).then_with(|| a.category.cmp(&b.category)));
    TopicReport {
        negatives: all.negatives,
        positives: all.positives,
        topics: all.shares(lexicon),
        untagged_share: ratio(all.untagged, all.negatives),
        keywords: all.keywords(lexicon, options.top_keywords, options.min_count),
        per_category,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_character_keywords_need_a_whole_word() {
        let lex = TopicLexicon::builtin();
        let s = Segmenter::shared();
        let key = |text: &str| -> Vec<String> {
            lex.mentions(text, &s.words(text)).into_iter().map(|i| lex.topics[i].key.clone()).collect()
        };
        assert_eq!(key("东西太贵了"), vec!["price"]);
        assert_eq!(key("用了两天就坏了"), vec!["quality"]);
        assert!(!key("这是一次宝贵的经历").contains(&"price".to_string()));
        assert_eq!(key("裤子有点偏大"), vec!["size"]);
    }

    #[test]
    fn chi_square_of_a_hand_table() {
        // [[10, 10], [2, 18]]: n = 40, (ad - bc)² = (180 - 20)² = 25,600,
        // margins 20·20·12·28 = 134,400 → 40 · 25,600 / 134,400.
        assert!((chi_square(10, 10, 2, 18) - 40.0 * 25_600.0 / 134_400.0).abs() < 1e-12);
        assert_eq!(chi_square(0, 0, 3, 4), 0.0);
    }
}
