//! Review sentiment over HTTP: `POST /v1/reviews/classify` (P(positive) and
//! complaint topics of one or many texts) and `GET /v1/reviews/topics` (the
//! last complaint-topic report `cohort reviews topics` saved beside the
//! store). Thin by design: the model, the segmenter and the lexicon live in
//! [`cohort_mining::reviews`].
//!
//! Both routes need an admin key. The model file is read on first use and
//! again whenever it changes on disk (after `cohort reviews train`); without
//! one the routes answer 503 `sentiment_disabled`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_mining::reviews::{Segmenter, SentimentModel, TopicLexicon, MODEL_FILE, TOPICS_FILE};
use serde::Deserialize;
use serde_json::json;

use crate::error::error_response;
use crate::AppState;

/// Most texts one classify request may send.
pub const MAX_TEXTS: usize = 1_000;
/// Longest text accepted, in characters.
pub const MAX_CHARS: usize = 10_000;

/// Where the model and the topic report live, and the loaded model.
pub(crate) struct ReviewService {
    dir: Option<PathBuf>,
    loaded: Mutex<Option<(SystemTime, Arc<SentimentModel>)>>,
}

impl ReviewService {
    /// Files under `dir` (the store's directory); `None` disables the routes.
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        ReviewService { dir, loaded: Mutex::new(None) }
    }

    /// The model, re-read when the file's modification time changed.
    fn model(&self) -> Result<Arc<SentimentModel>, String> {
        let file = self.dir.as_ref().ok_or("no store directory configured for the sentiment model")?.join(MODEL_FILE);
        let modified = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .map_err(|_| format!("no sentiment model at {}: run `cohort reviews train`", file.display()))?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, model)) = loaded.as_ref() {
            if *at == modified {
                return Ok(model.clone());
            }
        }
        let model = Arc::new(SentimentModel::load(&file).map_err(|e| e.to_string())?);
        *loaded = Some((modified, model.clone()));
        Ok(model)
    }
}

fn disabled(why: String) -> Response {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "sentiment_disabled", "system", why)
}

fn invalid(message: String) -> Response {
    error_response(StatusCode::BAD_REQUEST, "invalid_input", "invalid_request", message)
}

/// `{"text": "…"}` or `{"texts": ["…", …]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClassifyRequest {
    text: Option<String>,
    texts: Option<Vec<String>>,
}

/// `POST /v1/reviews/classify`.
pub(crate) async fn classify(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(e) = crate::auth::check_admin(&headers, &s) {
        return e.into_response();
    }
    let request: ClassifyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return invalid(format!("body: {e} (expected {{\"text\": …}} or {{\"texts\": […]}})")),
    };
    let texts = match (request.text, request.texts) {
        (Some(t), None) => vec![t],
        (None, Some(ts)) => ts,
        _ => return invalid("send exactly one of `text` and `texts`".into()),
    };
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return invalid(format!("`texts` must hold 1 to {MAX_TEXTS} texts, got {}", texts.len()));
    }
    if let Some(i) = texts.iter().position(|t| t.chars().count() > MAX_CHARS) {
        return invalid(format!("`texts[{i}]` is longer than {MAX_CHARS} characters"));
    }
    let service = s.reviews.clone();
    let work = tokio::task::spawn_blocking(move || {
        let model = service.model()?;
        let (seg, lexicon) = (Segmenter::shared(), TopicLexicon::builtin());
        let results: Vec<serde_json::Value> = texts
            .iter()
            .map(|text| {
                let words = seg.words(text);
                let s = model.classify_words(&words);
                let topics: Vec<&str> =
                    lexicon.mentions(text, &words).into_iter().map(|i| lexicon.topics[i].key.as_str()).collect();
                json!({"positive_probability": s.positive_probability, "positive": s.positive, "topics": topics})
            })
            .collect();
        Ok::<_, String>(results)
    });
    match work.await {
        Ok(Ok(results)) => Json(json!({ "results": results })).into_response(),
        Ok(Err(why)) => disabled(why),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "system", e.to_string()),
    }
}

/// `GET /v1/reviews/topics`.
pub(crate) async fn topics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = crate::auth::check_admin(&headers, &s) {
        return e.into_response();
    }
    let Some(dir) = s.reviews.dir.clone() else {
        return disabled("no store directory configured for the topic report".into());
    };
    let file = dir.join(TOPICS_FILE);
    match tokio::task::spawn_blocking(move || std::fs::read(&file).map(|b| (file, b))).await {
        Ok(Ok((file, bytes))) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(report) => Json(report).into_response(),
            Err(e) => disabled(format!("topic report {}: {e}", file.display())),
        },
        _ => disabled("no topic report yet: run `cohort reviews topics` on the store".into()),
    }
}
