//! Segments and recompute jobs over HTTP, for the console and scripts:
//! `GET /v1/segments` answers the counts `cohort segments --json` prints;
//! `POST /v1/jobs/compute` recomputes every profile in the background and
//! `GET /v1/jobs/{id}` reports its progress (persons done of the total),
//! so a long recompute started from the console shows a progress bar.
//!
//! [`Jobs`] is the one registry of background work (recompute, training,
//! tag recompute…): [`Jobs::spawn`] runs a closure on the blocking pool and
//! hands it a [`Progress`] to report its stage and units done of the
//! stage's total. The segments answer also carries the RFM grid: people
//! per (recency score, frequency score) with their average spend.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use cohort_insight::{compute_profiles, default_as_of, InsightConfig, SegmentSummary};
use cohort_model::{RfmScore, RfmSegment};
use cohort_store::EventStore;
use serde::Serialize;

use crate::analytics::admin_service;
use crate::error::{error_response, query_failed};
use crate::AppState;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobState {
    /// Still working.
    Running,
    /// Finished; `message` says what it did.
    Done,
    /// Stopped with an error in `message`.
    Failed,
}

/// One background job as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobView {
    id: u64,
    kind: &'static str,
    state: JobState,
    /// The stage working now (`reading`, `training`, `scoring`…).
    stage: Option<String>,
    /// Which stage that is, from 1 (0 before the first).
    step: u32,
    /// Stages in all, when known.
    steps: Option<u32>,
    /// Units of the stage done (persons for a recompute).
    done: u64,
    /// Units of the stage in all, when known.
    total: Option<u64>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    message: Option<String>,
}

struct Job {
    view: Mutex<JobView>,
    // Written by the worker on every progress tick without taking the lock.
    done: AtomicU64,
}

/// The server's jobs, newest last; finished jobs are kept (a handful a day)
/// so their outcome stays readable.
#[derive(Default)]
pub(crate) struct Jobs {
    jobs: Mutex<Vec<Arc<Job>>>,
    /// The settings of training jobs (`POST /v1/jobs/train`).
    pub(crate) training: crate::train::TrainingSettings,
}

impl Jobs {
    /// Starts `work` on the blocking pool as a job of `kind` with `steps`
    /// stages (when known); its `Ok` message or `Err` reason ends the job
    /// (a panic fails it). One job of a kind runs at a time: `Err` holds
    /// the id of the one running.
    pub(crate) fn spawn(
        &self,
        kind: &'static str,
        steps: Option<u32>,
        work: impl FnOnce(&Progress) -> Result<String, String> + Send + 'static,
    ) -> Result<JobView, u64> {
        let job = {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            if let Some(id) = jobs.iter().find_map(|j| {
                let v = j.view.lock().expect("job lock");
                (v.kind == kind && v.state == JobState::Running).then_some(v.id)
            }) {
                return Err(id);
            }
            let view = JobView {
                id: jobs.len() as u64 + 1,
                kind,
                state: JobState::Running,
                stage: None,
                step: 0,
                steps,
                done: 0,
                total: None,
                started_at: Utc::now(),
                finished_at: None,
                message: None,
            };
            let job = Arc::new(Job { view: Mutex::new(view), done: AtomicU64::new(0) });
            jobs.push(job.clone());
            job
        };
        let view = job.view.lock().expect("job lock").clone();
        tokio::task::spawn_blocking(move || {
            let progress = Progress { job: job.clone() };
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(&progress)))
                .unwrap_or_else(|_| Err(format!("the {kind} job panicked")));
            job.finish(outcome);
        });
        Ok(view)
    }

    fn view(&self, id: u64) -> Option<JobView> {
        let jobs = self.jobs.lock().expect("jobs lock");
        let job = jobs.get(id.checked_sub(1)? as usize)?;
        Some(job.snapshot())
    }

    /// Every job, newest first.
    fn list(&self) -> Vec<JobView> {
        let jobs = self.jobs.lock().expect("jobs lock");
        jobs.iter().rev().map(|j| j.snapshot()).collect()
    }
}

/// What a job's worker reports through: the stage it enters and the units
/// of that stage done. Cheap to call on every unit.
pub(crate) struct Progress {
    job: Arc<Job>,
}

impl Progress {
    /// A new stage starts with `total` units (when known); the count of
    /// units done starts again from 0.
    pub(crate) fn stage(&self, name: &str, total: Option<u64>) {
        let mut view = self.job.view.lock().expect("job lock");
        self.job.done.store(0, Ordering::Relaxed);
        view.stage = Some(name.to_string());
        view.step += 1;
        view.done = 0;
        view.total = total;
    }

    /// `done` units of the current stage are finished.
    pub(crate) fn advance(&self, done: u64) {
        self.job.done.store(done, Ordering::Relaxed);
    }
}

impl cohort_recommend::TrainProgress for Progress {
    fn stage(&self, name: &str, total: u64) {
        Progress::stage(self, name, Some(total));
    }

    fn advance(&self, done: u64) {
        Progress::advance(self, done);
    }
}

impl Job {
    fn snapshot(&self) -> JobView {
        let mut view = self.view.lock().expect("job lock").clone();
        if view.state == JobState::Running {
            view.done = view.done.max(self.done.load(Ordering::Relaxed));
        }
        view
    }

    fn finish(&self, outcome: Result<String, String>) {
        let mut view = self.view.lock().expect("job lock");
        view.done = view.done.max(self.done.load(Ordering::Relaxed));
        if outcome.is_ok() {
            if let Some(total) = view.total {
                view.done = view.done.max(total);
            }
        }
        view.finished_at = Some(Utc::now());
        (view.state, view.message) = match outcome {
            Ok(message) => (JobState::Done, Some(message)),
            Err(message) => (JobState::Failed, Some(message)),
        };
    }
}

/// One cell of the RFM grid: the buyers with these recency and frequency
/// scores (5 = most recent / most orders).
#[derive(Debug, Clone, Serialize)]
struct RfmCell {
    recency: u8,
    frequency: u8,
    /// The classic segment of the cell.
    segment: RfmSegment,
    persons: u64,
    /// Mean spend in the value window (fen, rounded); `None` when empty.
    avg_monetary_fen: Option<i64>,
}

/// The 5 × 5 grid of R and F scores over the stored profiles, recency
/// descending then frequency ascending (25 cells, empty ones included).
fn rfm_grid(store: &dyn EventStore) -> Result<Vec<RfmCell>, cohort_store::StoreError> {
    let mut cells = [[(0u64, 0i128); 5]; 5];
    store.scan_profiles(&mut |p| {
        if let Some(s) = p.rfm {
            let (r, f) = (usize::from(s.recency.clamp(1, 5)) - 1, usize::from(s.frequency.clamp(1, 5)) - 1);
            cells[r][f].0 += 1;
            cells[r][f].1 += i128::from(p.value_monetary.fen());
        }
        Ok(())
    })?;
    let mut grid = Vec::with_capacity(25);
    for recency in (1..=5u8).rev() {
        for frequency in 1..=5u8 {
            let (n, sum) = cells[usize::from(recency) - 1][usize::from(frequency) - 1];
            grid.push(RfmCell {
                recency,
                frequency,
                segment: RfmScore { recency, frequency, monetary: 1 }.segment(),
                persons: n,
                avg_monetary_fen: (n > 0).then(|| (sum as f64 / n as f64).round() as i64),
            });
        }
    }
    Ok(grid)
}

/// `GET /v1/segments`: the counts of `cohort segments --json` and the RFM
/// grid (`rfm_grid`).
pub(crate) async fn segments(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let read = move || -> Result<serde_json::Value, String> {
        let store = service.store().as_ref();
        let summary = SegmentSummary::from_store(store).map_err(|e| e.to_string())?;
        let grid = rfm_grid(store).map_err(|e| e.to_string())?;
        let mut json = serde_json::to_value(summary).map_err(|e| e.to_string())?;
        json["rfm_grid"] = serde_json::to_value(grid).map_err(|e| e.to_string())?;
        Ok(json)
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(json)) => Json(json).into_response(),
        Ok(Err(e)) => query_failed(e),
        Err(e) => query_failed(e),
    }
}

/// 409 `job_running`.
pub(crate) fn job_running(what: &str, id: u64) -> Response {
    error_response(StatusCode::CONFLICT, "job_running", "invalid_request", format!("{what} already (job {id})"))
}

/// `POST /v1/jobs/compute`: 202 with the job; 409 `job_running` while one
/// runs.
pub(crate) async fn start_compute(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let store = service.store().clone();
    let config: InsightConfig = service.segments_config().clone();
    let started = service.jobs().spawn("compute", Some(1), move |progress| {
        progress.stage("computing profiles", store.stats().ok().map(|s| s.persons));
        let as_of = default_as_of(store.as_ref())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the store is empty: import or generate data first".to_string())?;
        let report = compute_profiles(store.as_ref(), as_of, &config, &mut |done| progress.advance(done))
            .map_err(|e| e.to_string())?;
        Ok(format!("computed {} profiles as of {}", report.profiles_written, report.as_of.to_rfc3339()))
    });
    match started {
        Ok(view) => (StatusCode::ACCEPTED, Json(view)).into_response(),
        Err(id) => job_running("profiles are being recomputed", id),
    }
}

/// `GET /v1/jobs`: every job of this server run, newest first.
pub(crate) async fn jobs(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match admin_service(&state, &headers) {
        Ok(service) => Json(serde_json::json!({ "jobs": service.jobs().list() })).into_response(),
        Err(r) => *r,
    }
}

/// `GET /v1/jobs/{id}`.
pub(crate) async fn job(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match id.parse::<u64>().ok().and_then(|id| service.jobs().view(id)) {
        Some(view) => Json(view).into_response(),
        None => error_response(StatusCode::NOT_FOUND, "unknown_job", "invalid_request", format!("no job {id:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn settled(jobs: &Jobs, id: u64) -> JobView {
        for _ in 0..200 {
            let view = jobs.view(id).unwrap();
            if view.state != JobState::Running {
                return view;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("job {id} still running");
    }

    #[tokio::test]
    async fn jobs_report_stages_one_of_a_kind_at_a_time() {
        let jobs = Jobs::default();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (entered, staged) = std::sync::mpsc::channel::<()>();
        let first = jobs
            .spawn("train_x", Some(2), move |p| {
                p.stage("reading", Some(10));
                p.advance(4);
                entered.send(()).unwrap();
                wait.recv().unwrap();
                p.stage("writing", Some(3));
                p.advance(2);
                Ok("wrote 3".into())
            })
            .unwrap();
        assert_eq!((first.id, first.state, first.steps), (1, JobState::Running, Some(2)));
        staged.recv().unwrap();
        let view = jobs.view(1).unwrap();
        assert_eq!((view.stage.as_deref(), view.step, view.done, view.total), (Some("reading"), 1, 4, Some(10)));
        assert_eq!(jobs.spawn("train_x", None, |_| Ok(String::new())).unwrap_err(), 1, "one train_x at a time");
        let other = jobs.spawn("compute", None, |_| Err("the store is empty".into())).unwrap();
        assert_eq!(other.id, 2);
        go.send(()).unwrap();
        let done = settled(&jobs, 1).await;
        assert_eq!(
            (done.state, done.step, done.done, done.total),
            (JobState::Done, 2, 3, Some(3)),
            "done fills the stage"
        );
        assert_eq!(done.message.as_deref(), Some("wrote 3"));
        let failed = settled(&jobs, 2).await;
        assert_eq!((failed.state, failed.message.as_deref()), (JobState::Failed, Some("the store is empty")));
        let panicked = jobs.spawn("train_x", None, |_| panic!("boom")).unwrap();
        let view = settled(&jobs, panicked.id).await;
        assert_eq!((view.state, view.message.as_deref()), (JobState::Failed, Some("the train_x job panicked")));
        assert_eq!(jobs.list().iter().map(|j| j.id).collect::<Vec<_>>(), [3, 2, 1]);
        assert!(jobs.view(9).is_none());
    }
}
