//! Trains the sentiment model on the stratified split of the review corpus
//! and prints held-out figures and timings (`cargo run --release --example
//! sentiment_eval -p cohort-mining -- FILE`).

use std::time::Instant;

use cohort_mining::reviews::{read_labelled_reviews, stratified_split, Segmenter, SentimentModel, TrainSettings};

fn main() {
    let path = std::env::args().nth(1).expect("usage: sentiment_eval FILE");
    let t = Instant::now();
    let reviews = read_labelled_reviews(std::path::Path::new(&path)).expect("read");
    let settings = TrainSettings::default();
    let (train, test) = stratified_split(&reviews, settings.held_out, settings.seed);
    let train: Vec<_> = train.iter().map(|&i| reviews[i].clone()).collect();
    let test: Vec<_> = test.iter().map(|&i| reviews[i].clone()).collect();
    let read = t.elapsed();
    let seg = Segmenter::new();
    let t = Instant::now();
    let model = SentimentModel::train(&train, settings, &seg).expect("train");
    let trained = t.elapsed();
    let t = Instant::now();
    let eval = model.evaluate(&test, &seg);
    let evaluated = t.elapsed();
    println!("read {read:?} train {trained:?} ({} terms) eval {evaluated:?}", model.summary.terms);
    println!("{}", serde_json::to_string_pretty(&eval).unwrap());
}
