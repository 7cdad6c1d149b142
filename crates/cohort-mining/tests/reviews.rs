//! Review sentiment and complaint topics: held-out accuracy on the real
//! corpus, save/load round trip, topic shares on hand-built reviews, and
//! per-person sentiment from a store.

use chrono::{TimeZone, Utc};
use cohort_mining::reviews::{
    complaint_topics, read_labelled_reviews, score_people, stratified_split, LabelledReview, Segmenter, SentimentModel,
    TopicLexicon, TopicOptions, TrainSettings,
};
use cohort_model::{Batch, Event, EventId, EventName, PersonId};
use cohort_store::{EventStore, MemoryStore, WriteSource};

const REVIEWS: &str = "cn_shopping_reviews/online_shopping_10_cats.csv.gz";

#[test]
fn held_out_accuracy_on_the_review_corpus_and_identical_after_save_load() {
    let Some(path) = cohort_testkit::dataset(REVIEWS) else { return };
    let reviews = read_labelled_reviews(&path).unwrap();
    // 62,774 rows (31,728 positive), one positive with an empty review.
    assert_eq!(reviews.len(), 62_773);
    assert_eq!(reviews.iter().filter(|r| r.positive).count(), 31_727); // the empty one is positive
    let settings = TrainSettings::default();
    let (train, test) = stratified_split(&reviews, settings.held_out, settings.seed);
    assert_eq!((train.len(), test.len()), (50_219, 12_554));
    let train: Vec<LabelledReview> = train.iter().map(|&i| reviews[i].clone()).collect();
    let test: Vec<LabelledReview> = test.iter().map(|&i| reviews[i].clone()).collect();

    let seg = Segmenter::new();
    let model = SentimentModel::train(&train, settings, &seg).unwrap();
    let eval = model.evaluate(&test, &seg);
    println!(
        "held-out {} reviews: accuracy {:.4}, F1 {:.4} (negative F1 {:.4}, macro {:.4}), precision {:.4}, recall {:.4}, {} terms",
        eval.reviews,
        eval.accuracy,
        eval.f1,
        eval.negative_f1,
        eval.macro_f1,
        eval.precision,
        eval.recall,
        model.summary.terms
    );
    for c in &eval.per_category {
        println!("  {} {} reviews: accuracy {:.4}", c.category, c.reviews, c.accuracy);
    }
    assert_eq!(eval.reviews, 12_554);
    assert!(eval.accuracy >= 0.88, "accuracy {}", eval.accuracy);
    assert!(eval.f1 >= 0.88 && eval.negative_f1 >= 0.88, "F1 {} / {}", eval.f1, eval.negative_f1);
    assert!(eval.per_category.iter().all(|c| c.accuracy >= 0.85), "{:?}", eval.per_category);

    let file = std::env::temp_dir().join(format!("cohort-reviews-test-{}.json.gz", std::process::id()));
    model.save(&file).unwrap();
    let back = SentimentModel::load(&file).unwrap();
    std::fs::remove_file(&file).ok();
    for r in test.iter().take(2_000) {
        let words = seg.words(&r.text);
        assert_eq!(model.classify_words(&words), back.classify_words(&words), "{}", r.text);
    }
    assert_eq!(back.summary, model.summary);
}

fn hand_reviews() -> Vec<LabelledReview> {
    vec![
        LabelledReview::new("衣服", false, "物流太慢了，等了一个星期"),
        LabelledReview::new("衣服", false, "快递员态度很差"),
        LabelledReview::new("衣服", false, "衣服偏大，质量也一般"),
        LabelledReview::new("手机", false, "不值这个价格"),
        LabelledReview::new("衣服", false, "很失望"),
        LabelledReview::new("衣服", true, "物流很快，很满意"),
        LabelledReview::new("衣服", true, "质量很好"),
        LabelledReview::new("手机", true, "非常喜欢"),
    ]
}

#[test]
fn topic_shares_on_hand_built_reviews() {
    let lexicon = TopicLexicon::builtin();
    let report = complaint_topics(&hand_reviews(), &lexicon, Segmenter::shared(), TopicOptions::default());
    assert_eq!((report.negatives, report.positives), (5, 3));
    let shares: Vec<(&str, usize, f64)> =
        report.topics.iter().filter(|t| t.negatives > 0).map(|t| (t.key.as_str(), t.negatives, t.share)).collect();
    // Logistics: 物流 and 快递 (2 of 5 bad reviews); 态度 is service, 偏大
    // size, 质量 quality, 价格 price; 很失望 names no topic.
    assert_eq!(
        shares,
        vec![("logistics", 2, 0.4), ("price", 1, 0.2), ("quality", 1, 0.2), ("service", 1, 0.2), ("size", 1, 0.2)]
    );
    assert_eq!(report.untagged_share, 0.2);
    let logistics = &report.topics[0];
    assert!((logistics.positive_share - 1.0 / 3.0).abs() < 1e-12);
    // (2 + ½) / (5 + 1) ÷ (1 + ½) / (3 + 1)
    assert!((logistics.lift - (2.5 / 6.0) / (1.5 / 4.0)).abs() < 1e-12);

    let cats: Vec<(&str, usize, usize)> =
        report.per_category.iter().map(|c| (c.category.as_str(), c.negatives, c.positives)).collect();
    assert_eq!(cats, vec![("衣服", 4, 2), ("手机", 1, 1)]);
    assert_eq!(report.per_category[0].topics[0].key, "logistics");
    assert_eq!(report.per_category[0].topics[0].share, 0.5);
    assert_eq!(report.per_category[1].topics[0].key, "price");
}

fn review(id: &str, person: &str, day: u32, rating: u8, text: &str) -> Event {
    let mut e = Event::new(
        EventId::new(id).unwrap(),
        Some(PersonId::new(person).unwrap()),
        EventName::ProductReviewed,
        Utc.with_ymd_and_hms(2025, 6, day, 12, 0, 0).unwrap(),
    );
    e.rating = Some(rating);
    e.review_body = Some(text.into());
    e
}

#[test]
fn per_person_sentiment_from_a_store() {
    let mut corpus = Vec::new();
    for i in 0..30 {
        corpus.push(LabelledReview::new("衣服", true, &format!("质量很好，很喜欢，推荐{i}")));
        corpus.push(LabelledReview::new("衣服", false, &format!("太差了，不喜欢，失望{i}")));
    }
    let seg = Segmenter::shared();
    let model = SentimentModel::train(&corpus, TrainSettings::default(), seg).unwrap();

    let store = MemoryStore::new();
    let mut batch = Batch::default();
    batch.events.push(review("r1", "alice", 1, 5, "质量很好，很喜欢"));
    batch.events.push(review("r2", "alice", 2, 1, "太差了，物流也慢，不喜欢"));
    batch.events.push(review("r3", "bob", 3, 1, "太差了，尺码偏小，不喜欢"));
    batch.events.push(review("r4", "bob", 4, 2, "太差了，偏大，快递也慢，失望"));
    let mut empty = review("r5", "carol", 5, 4, " ");
    empty.review_body = Some("  ".into());
    batch.events.push(empty);
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(1).unwrap();

    let people = score_people(&store, &model, &TopicLexicon::builtin(), seg).unwrap();
    type Row<'a> = (&'a str, usize, usize, Option<f64>, Option<&'a str>);
    let rows: Vec<Row> = people
        .iter()
        .map(|p| (p.person_id.as_str(), p.reviews, p.negative, p.mean_rating, p.top_complaint.as_deref()))
        .collect();
    assert_eq!(
        rows,
        vec![("alice", 2, 1, Some(3.0), Some("logistics")), ("bob", 2, 2, Some(1.5), Some("size"))],
        "carol's only review is blank"
    );
    assert_eq!(people[1].complaints.get("logistics"), Some(&1));
    assert_eq!(people[1].label(), "negative");
    assert!(people[0].mean_positive_probability > 0.2 && people[0].mean_positive_probability < 0.8);
}
