//! Review sentiment and complaint topics for Chinese shop reviews.
//!
//! [`Segmenter`] cuts text into words with jieba-rs; [`SentimentModel`] is a
//! regularised logistic regression over tf-idf words and bigrams, trained on
//! labelled reviews ([`read_labelled_reviews`], [`stratified_split`]),
//! evaluated on a held-out split and saved / loaded as gzip JSON.

mod classifier;
mod corpus;
mod segment;

pub use classifier::{
    CategoryAccuracy, Evaluation, Sentiment, SentimentModel, TrainSettings, TrainingSummary, MODEL_FORMAT,
};
pub use corpus::{read_labelled_reviews, stratified_split, LabelledReview};
pub use segment::{terms, Segmenter, BIGRAM_SEPARATOR};
