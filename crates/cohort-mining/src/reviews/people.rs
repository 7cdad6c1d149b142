//! Reviews in the store: per-person sentiment for the profile, and the
//! store's reviews labelled by the model for the topic report.

use std::collections::BTreeMap;

use cohort_model::{EventName, PersonId};
use cohort_store::EventStore;
use serde::{Deserialize, Serialize};

use super::classifier::SentimentModel;
use super::corpus::LabelledReview;
use super::segment::Segmenter;
use super::topics::TopicLexicon;
use crate::Result;

/// One person's review sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonSentiment {
    /// Who.
    pub person_id: PersonId,
    /// Reviews with text.
    pub reviews: usize,
    /// Of which the model calls positive.
    pub positive: usize,
    /// Of which the model calls negative.
    pub negative: usize,
    /// Mean P(positive) over the person's reviews, 0–1.
    pub mean_positive_probability: f64,
    /// Mean star rating of those reviews that carry one.
    pub mean_rating: Option<f64>,
    /// Complaint topics of the negative reviews, by topic key.
    pub complaints: BTreeMap<String, usize>,
    /// The topic most of the negative reviews mention (ties: lexicon order).
    pub top_complaint: Option<String>,
}

impl PersonSentiment {
    /// A short reading: `positive` (mean ≥ 0.6), `negative` (≤ 0.4) or `mixed`.
    pub fn label(&self) -> &'static str {
        if self.mean_positive_probability >= 0.6 {
            "positive"
        } else if self.mean_positive_probability <= 0.4 {
            "negative"
        } else {
            "mixed"
        }
    }
}

/// Scores every person with at least one `Product Reviewed` event carrying
/// text, ordered by person id.
pub fn score_people(
    store: &dyn EventStore,
    model: &SentimentModel,
    lexicon: &TopicLexicon,
    segmenter: &Segmenter,
) -> Result<Vec<PersonSentiment>> {
    let mut out = Vec::new();
    store.scan_histories(&mut |history| {
        let (mut n, mut pos, mut sum_p) = (0usize, 0usize, 0.0f64);
        let (mut ratings, mut rated) = (0u32, 0u32);
        let mut complaints: Vec<usize> = vec![0; lexicon.topics.len()];
        for e in &history.events {
            let Some(text) = review_text(e) else { continue };
            let words = segmenter.words(text);
            let s = model.classify_words(&words);
            n += 1;
            sum_p += s.positive_probability;
            if s.positive {
                pos += 1;
            } else {
                for t in lexicon.mentions(text, &words) {
                    complaints[t] += 1;
                }
            }
            if let Some(r) = e.rating {
                ratings += u32::from(r);
                rated += 1;
            }
        }
        if n == 0 {
            return Ok(());
        }
        let top =
            complaints.iter().enumerate().filter(|&(_, &c)| c > 0).max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)));
        out.push(PersonSentiment {
            person_id: history.person_id.clone(),
            reviews: n,
            positive: pos,
            negative: n - pos,
            mean_positive_probability: sum_p / n as f64,
            mean_rating: (rated > 0).then(|| f64::from(ratings) / f64::from(rated)),
            complaints: complaints
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c > 0)
                .map(|(i, &c)| (lexicon.topics[i].key.clone(), c))
                .collect(),
            top_complaint: top.map(|(i, _)| lexicon.topics[i].key.clone()),
        });
        Ok(())
    })?;
    out.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    Ok(out)
}

/// Every review text in the store, labelled positive or negative by the
/// model, with the event's category (empty when it has none).
pub fn store_reviews(
    store: &dyn EventStore,
    model: &SentimentModel,
    segmenter: &Segmenter,
) -> Result<Vec<LabelledReview>> {
    let mut out = Vec::new();
    store.scan_histories(&mut |history| {
        for e in &history.events {
            if let Some(text) = review_text(e) {
                let positive = model.classify_words(&segmenter.words(text)).positive;
                out.push(LabelledReview {
                    category: e.category.clone().unwrap_or_default(),
                    positive,
                    text: text.into(),
                });
            }
        }
        Ok(())
    })?;
    Ok(out)
}

fn review_text(e: &cohort_model::Event) -> Option<&str> {
    if e.name != EventName::ProductReviewed {
        return None;
    }
    e.review_body.as_deref().map(str::trim).filter(|t| !t.is_empty())
}
