//! Review sentiment and complaint topics for Chinese shop reviews.
//!
//! [`Segmenter`] cuts text into words with jieba-rs; [`SentimentModel`] is a
//! regularised logistic regression over tf-idf words and bigrams, trained on
//! labelled reviews ([`read_labelled_reviews`], [`stratified_split`]),
//! evaluated on a held-out split and saved / loaded as gzip JSON.
//! [`complaint_topics`] files bad reviews under a [`TopicLexicon`]
//! (logistics, size, quality, service, price…) with shares overall and per
//! category, and ranks complaint keywords by χ² against good reviews.
//! [`score_people`] gives each person of a store their review sentiment.
//! See `docs/mining.md`.

/// The sentiment model's file name beside the store.
pub const MODEL_FILE: &str = "sentiment.model.json.gz";

/// The last complaint-topic report of the store's reviews, beside the store
/// (written by `cohort reviews topics`, served by `GET /v1/reviews/topics`).
pub const TOPICS_FILE: &str = "sentiment.topics.json";

/// The labelled corpus inside the data directory (`COHORT_DATA_DIR`).
pub const CORPUS: &str = "cn_shopping_reviews/online_shopping_10_cats.csv.gz";

mod classifier;
mod corpus;
mod people;
mod segment;
mod topics;

pub use classifier::{
    CategoryAccuracy, Evaluation, Sentiment, SentimentModel, TermWeights, TrainSettings, TrainingSummary, MODEL_FORMAT,
};
pub use corpus::{read_labelled_reviews, stratified_split, LabelledReview};
pub use people::{score_people, store_reviews, PersonSentiment};
pub use segment::{terms, Segmenter, BIGRAM_SEPARATOR};
pub use topics::{
    complaint_topics, CategoryTopics, ComplaintKeyword, Topic, TopicLexicon, TopicOptions, TopicReport, TopicShare,
};
