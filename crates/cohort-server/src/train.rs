//! Model training as background jobs: `POST /v1/jobs/train` with
//! `{"model": "churn" | "clusters" | "clv" | "replenishment" |
//! "recommend", …}` (and per model `horizon_days` / `cut_off`, `k`,
//! `as_of`) answers 202 and the job; `GET /v1/jobs/{id}` shows its
//! stage and units done of the stage's total. Each job does what its CLI
//! command does (`cohort churn train` then `score`, `cohort clusters
//! --refit`, `cohort clv fit`, `cohort replenish`, `cohort recommend
//! train`): it saves the model file beside the store and stores the scores
//! the read routes serve, with the server's settings ([`TrainingSettings`],
//! from `cohort.toml` under `cohort serve`). A new recommendation model is
//! served after `POST /v1/recommendations/reload` (the console calls it).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohort_duckdb::{DuckDbStore, ScoreRow};
use cohort_model::{Profile, ShopTime};
use cohort_predict::churn::{build_sets, default_cut_offs, ChurnModel, ChurnSettings};
use cohort_predict::cluster::{fit_clusters, ClusterSettings};
use cohort_predict::clv::{purchase_days, ClvModel, ClvScore, ClvSettings};
use cohort_predict::replenish::{ReplenishSettings, Replenishment};
use cohort_recommend::{RecommendConfig, Recommender};
use cohort_store::EventStore;
use serde::Deserialize;
use serde_json::json;

use crate::analytics::admin_service;
use crate::error::invalid_input;
use crate::insight::{job_running, Progress};
use crate::AppState;

/// The settings training jobs use: `[churn]`, `[clusters]`, `[clv]`,
/// `[replenish]` and `[recommend]` of `cohort.toml` (defaults otherwise).
#[derive(Debug, Clone, Default)]
pub struct TrainingSettings {
    /// Churn model.
    pub churn: ChurnSettings,
    /// Behaviour clusters.
    pub clusters: ClusterSettings,
    /// Customer lifetime value.
    pub clv: ClvSettings,
    /// Replenishment intervals.
    pub replenish: ReplenishSettings,
    /// Recommendations.
    pub recommend: RecommendConfig,
}

/// The models a training job can fit.
pub const MODELS: [&str; 5] = ["churn", "clusters", "clv", "replenishment", "recommend"];

/// Score rows are stored in chunks of this many people between progress ticks.
const CHUNK: usize = 500;

/// Body of `POST /v1/jobs/train`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainBody {
    model: String,
    /// Churn: forward window in days.
    #[serde(default)]
    horizon_days: Option<u32>,
    /// Churn: the training cut-off day (shop time); default data end − 2 × horizon.
    #[serde(default)]
    cut_off: Option<NaiveDate>,
    /// Clusters: a fixed number of clusters.
    #[serde(default)]
    k: Option<usize>,
    /// CLV and replenishment: the shop-local day to count from.
    #[serde(default)]
    as_of: Option<NaiveDate>,
}

/// One job's work, checked before it starts.
enum Plan {
    Churn(ChurnSettings, Option<NaiveDate>),
    Clusters(ClusterSettings),
    Clv(ClvSettings, Option<NaiveDate>),
    Replenishment(ReplenishSettings, Option<NaiveDate>),
    Recommend(RecommendConfig),
}

impl Plan {
    fn kind(&self) -> &'static str {
        match self {
            Plan::Churn(..) => "train_churn",
            Plan::Clusters(_) => "train_clusters",
            Plan::Clv(..) => "train_clv",
            Plan::Replenishment(..) => "train_replenishment",
            Plan::Recommend(_) => "train_recommend",
        }
    }

    fn steps(&self) -> u32 {
        match self {
            Plan::Churn(..) => 5,
            Plan::Clusters(_) => 4,
            Plan::Clv(..) => 3,
            Plan::Replenishment(..) => 2,
            Plan::Recommend(_) => 4,
        }
    }
}

/// Reads and checks the body against the server's settings; the error
/// names the field and the reason.
fn plan(body: &[u8], base: &TrainingSettings) -> Result<Plan, String> {
    let body: TrainBody = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
    let only = |field: &str, set: bool, models: &str| -> Result<(), String> {
        if set {
            Err(format!("{field}: applies to {models} only, not to model {:?}", body.model))
        } else {
            Ok(())
        }
    };
    let m = body.model.as_str();
    only("horizon_days", body.horizon_days.is_some() && m != "churn", "churn")?;
    only("cut_off", body.cut_off.is_some() && m != "churn", "churn")?;
    only("k", body.k.is_some() && m != "clusters", "clusters")?;
    only("as_of", body.as_of.is_some() && m != "clv" && m != "replenishment", "clv and replenishment")?;
    Ok(match m {
        "churn" => {
            let mut s = base.churn.clone();
            if let Some(h) = body.horizon_days {
                s.horizon_days = h;
            }
            s.validate().map_err(|e| e.to_string())?;
            Plan::Churn(s, body.cut_off)
        }
        "clusters" => {
            let mut s = base.clusters.clone();
            if body.k.is_some() {
                s.k = body.k;
            }
            s.validate().map_err(|e| e.to_string())?;
            Plan::Clusters(s)
        }
        "clv" => {
            base.clv.validate().map_err(|e| e.to_string())?;
            Plan::Clv(base.clv, body.as_of)
        }
        "replenishment" => {
            base.replenish.validate()?;
            Plan::Replenishment(base.replenish, body.as_of)
        }
        "recommend" => {
            base.recommend.validate().map_err(|e| e.to_string())?;
            Plan::Recommend(base.recommend.clone())
        }
        other => return Err(format!("model {other:?}: expected one of {}", MODELS.join(", "))),
    })
}

/// `POST /v1/jobs/train`: 202 with the job, 400 `invalid_input` for a bad
/// body, 409 `job_running` while the same model trains.
pub(crate) async fn start(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let plan = match plan(&body, &service.jobs().training) {
        Ok(p) => p,
        Err(message) => return invalid_input(message),
    };
    let store = service.store().clone();
    if store.path().is_none() {
        return invalid_input("model: the store is in memory, there is no place for a model file".into());
    }
    let shop = service.engine().shop();
    let segments = service.segments_config().clone();
    let (kind, steps) = (plan.kind(), plan.steps());
    let started = service.jobs().spawn(kind, Some(steps), move |progress| {
        let result = match plan {
            Plan::Churn(s, cut_off) => churn(&store, &segments, &s, cut_off.map(|d| shop.start_of_day(d)), progress),
            Plan::Clusters(s) => clusters(&store, &s, progress),
            Plan::Clv(s, as_of) => clv(&store, &shop, s, as_of, progress),
            Plan::Replenishment(s, as_of) => replenishment(&store, &shop, s, as_of, progress),
            Plan::Recommend(c) => recommend(&store, &c, progress),
        };
        result.map_err(|e| e.to_string())
    });
    match started {
        Ok(view) => (StatusCode::ACCEPTED, Json(view)).into_response(),
        Err(id) => job_running(&format!("{kind} is running"), id),
    }
}

type Outcome = Result<String, Box<dyn std::error::Error + Send + Sync>>;

fn store_dir(store: &DuckDbStore) -> std::path::PathBuf {
    store.path().and_then(|p| p.parent()).map(|d| d.to_path_buf()).unwrap_or_default()
}

/// Every stored profile, counted as they are read.
fn profiles(store: &DuckDbStore, progress: &Progress) -> Result<Vec<Profile>, cohort_store::StoreError> {
    progress.stage("reading profiles", store.stats().ok().map(|s| s.persons));
    let mut out = Vec::new();
    store.scan_profiles(&mut |p| {
        out.push(p);
        if out.len() % CHUNK == 0 {
            progress.advance(out.len() as u64);
        }
        Ok(())
    })?;
    progress.advance(out.len() as u64);
    Ok(out)
}

/// Replaces `model`'s scores, as one stage.
fn store_scores(store: &DuckDbStore, model: &str, rows: &[ScoreRow], progress: &Progress) -> Outcome {
    progress.stage("storing scores", Some(rows.len() as u64));
    store.replace_scores(model, Utc::now(), rows)?;
    progress.advance(rows.len() as u64);
    Ok(String::new())
}

/// `cohort churn train` (at `cut_off`, else its default cut-offs), then
/// `cohort churn score`.
fn churn(
    store: &DuckDbStore,
    segments: &cohort_insight::InsightConfig,
    s: &ChurnSettings,
    cut_off: Option<DateTime<Utc>>,
    p: &Progress,
) -> Outcome {
    p.stage("building training sets", Some(1));
    let end = store.stats()?.last_at.ok_or("the store is empty: import orders first")?;
    let (train_at, eval_at) = match cut_off {
        Some(t) => (t, t + Duration::days(i64::from(s.horizon_days))),
        None => default_cut_offs(end, s.horizon_days),
    };
    let sets = build_sets(store, segments, s, &[train_at, eval_at])?;
    p.advance(1);
    p.stage("training", Some(1));
    let mut model = ChurnModel::train(&sets[0], s)?;
    if eval_at + Duration::days(i64::from(s.horizon_days)) <= end && !sets[1].is_empty() {
        model.evaluation = Some(model.evaluate(&sets[1]));
    }
    model.save(&store_dir(store).join(cohort_predict::churn::MODEL_FILE))?;
    p.advance(1);
    let all = profiles(store, p)?;
    if all.is_empty() {
        return Err("no profiles: recompute profiles first".into());
    }
    p.stage("scoring", Some(all.len() as u64));
    let high = model.settings.high_risk;
    let mut rows = Vec::new();
    for (i, chunk) in all.chunks(CHUNK).enumerate() {
        rows.extend(chunk.iter().filter_map(|x| model.score(x)).map(|s| {
            ScoreRow {
                person_id: s.person_id.clone(),
                score: s.risk,
                label: Some(
                    if s.risk >= high {
                        "high"
                    } else if s.risk >= high / 2.0 {
                        "medium"
                    } else {
                        "low"
                    }
                    .into(),
                ),
                detail: json!({ "top_features": s.top_features }),
            }
        }));
        p.advance(((i + 1) * CHUNK).min(all.len()) as u64);
    }
    store_scores(store, "churn", &rows, p)?;
    let n_high = rows.iter().filter(|r| r.score >= high).count();
    Ok(format!(
        "churn model trained (cut-off {}); {} people scored, {n_high} at risk >= {high}",
        train_at.date_naive(),
        rows.len()
    ))
}

/// `cohort clusters --refit`.
fn clusters(store: &DuckDbStore, s: &ClusterSettings, p: &Progress) -> Outcome {
    let all = profiles(store, p)?;
    p.stage("fitting", Some(1));
    let model = fit_clusters(&all, s)?;
    model.save(&store_dir(store).join(cohort_predict::cluster::MODEL_FILE))?;
    p.advance(1);
    p.stage("assigning", Some(all.len() as u64));
    let mut rows = Vec::new();
    for (i, chunk) in all.chunks(CHUNK).enumerate() {
        rows.extend(chunk.iter().filter_map(|x| model.assign(x)).map(|a| ScoreRow {
            person_id: a.person_id.clone(),
            score: a.cluster as f64,
            label: Some(a.name.clone()),
            detail: json!({ "cluster": a.cluster, "distance": (a.distance * 1000.0).round() / 1000.0 }),
        }));
        p.advance(((i + 1) * CHUNK).min(all.len()) as u64);
    }
    store_scores(store, "cluster", &rows, p)?;
    Ok(format!("{} clusters (k by {}) of {} buyers", model.k, model.chosen_by, rows.len()))
}

fn clv_row(model: &ClvModel, s: &ClvScore) -> ScoreRow {
    ScoreRow {
        person_id: s.person_id.clone(),
        score: s.clv_fen as f64,
        label: Some(s.alive_label().to_string()),
        detail: s.detail(model),
    }
}

/// `cohort clv fit` (as of the last purchase day unless given).
fn clv(store: &DuckDbStore, shop: &ShopTime, s: ClvSettings, as_of: Option<NaiveDate>, p: &Progress) -> Outcome {
    p.stage("reading purchases", Some(1));
    let days = purchase_days(store, shop)?;
    let as_of = match (as_of, days.last_purchase_at) {
        (Some(d), _) => d,
        (None, Some(at)) => shop.date(at),
        (None, None) => return Err("the store has no paid orders: nothing to fit".into()),
    };
    p.advance(1);
    p.stage("fitting", Some(1));
    let (model, scores) = ClvModel::fit(&days, as_of, s)?;
    model.save(&store_dir(store).join(cohort_predict::clv::MODEL_FILE))?;
    p.advance(1);
    let rows: Vec<ScoreRow> = scores.iter().map(|x| clv_row(&model, x)).collect();
    store_scores(store, "clv", &rows, p)?;
    Ok(format!("CLV fitted as of {as_of}: {} customers scored", rows.len()))
}

/// `cohort replenish` (as of today, shop time, unless given).
fn replenishment(
    store: &DuckDbStore,
    shop: &ShopTime,
    s: ReplenishSettings,
    as_of: Option<NaiveDate>,
    p: &Progress,
) -> Outcome {
    p.stage("reading orders", Some(1));
    let as_of = as_of.unwrap_or_else(|| shop.date(Utc::now()));
    let model = Replenishment::from_store(store, shop, s)?;
    p.advance(1);
    let rows: Vec<ScoreRow> = model
        .persons()
        .filter_map(|person| {
            let items = model.for_person(person);
            let next = items.iter().find(|d| d.run_out >= as_of).or(items.last())?;
            Some(ScoreRow {
                person_id: person.clone(),
                score: (next.run_out - as_of).num_days() as f64,
                label: Some(next.item.clone()),
                detail: json!({ "as_of": as_of, "items": items }),
            })
        })
        .collect();
    store_scores(store, "replenishment", &rows, p)?;
    let consumables = model.items().filter(|i| i.consumable).count();
    Ok(format!("{consumables} consumables; {} people stored as of {as_of}", rows.len()))
}

/// `cohort recommend train`.
fn recommend(store: &DuckDbStore, config: &RecommendConfig, p: &Progress) -> Outcome {
    let model = Recommender::train_from_store(store, config, p)?;
    p.stage("saving", Some(1));
    model.save(&store_dir(store).join(cohort_recommend::MODEL_FILE))?;
    p.advance(1);
    let s = model.summary();
    Ok(format!("trained on {} people × {} products; reload to serve it", s.people, s.items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> String {
        match plan(body.as_bytes(), &TrainingSettings::default()) {
            Ok(p) => panic!("{body} accepted as {}", p.kind()),
            Err(e) => e,
        }
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = |b: &str| plan(b.as_bytes(), &TrainingSettings::default()).unwrap();
        assert_eq!(ok(r#"{"model":"churn","horizon_days":60}"#).kind(), "train_churn");
        assert_eq!(ok(r#"{"model":"clusters","k":3}"#).steps(), 4);
        assert_eq!(ok(r#"{"model":"replenishment","as_of":"2025-08-20"}"#).kind(), "train_replenishment");
        assert!(refused(r#"{"model":"lda"}"#).starts_with("model \"lda\": expected one of churn, clusters"));
        assert!(refused(r#"{"model":"clv","k":3}"#).starts_with("k: applies to clusters only"));
        assert_eq!(ok(r#"{"model":"churn","cut_off":"2025-03-01"}"#).kind(), "train_churn");
        assert!(refused(r#"{"model":"clusters","cut_off":"2025-03-01"}"#).starts_with("cut_off: applies to churn only"));
        assert!(refused(r#"{"model":"clusters","k":1}"#).contains('k'));
        assert!(refused(r#"{"model":"churn","horizon_days":0}"#).contains("horizon_days"));
        assert!(refused(r#"{"model":"clv","as_of":"20 Aug"}"#).starts_with("body: "));
        assert!(refused(r#"{"model":"clv","extra":1}"#).contains("unknown field `extra`"));
        assert!(refused("").starts_with("body: "));
    }
}
