//! Segments and recompute jobs over HTTP, for the console and scripts:
//! `GET /v1/segments` answers the counts `cohort segments --json` prints;
//! `POST /v1/jobs/compute` recomputes every profile in the background and
//! `GET /v1/jobs/{id}` reports its progress (persons done of the total),
//! so a long recompute started from the console shows a progress bar.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use cohort_insight::{compute_profiles, default_as_of, InsightConfig, SegmentSummary};
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
    /// Units done (persons for a recompute).
    done: u64,
    /// Units in all, when known.
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
}

impl Jobs {
    fn start(&self, kind: &'static str, total: Option<u64>) -> (u64, Arc<Job>) {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        let id = jobs.len() as u64 + 1;
        let view = JobView {
            id,
            kind,
            state: JobState::Running,
            done: 0,
            total,
            started_at: Utc::now(),
            finished_at: None,
            message: None,
        };
        let job = Arc::new(Job { view: Mutex::new(view), done: AtomicU64::new(0) });
        jobs.push(job.clone());
        (id, job)
    }

    fn view(&self, id: u64) -> Option<JobView> {
        let jobs = self.jobs.lock().expect("jobs lock");
        let job = jobs.get(id.checked_sub(1)? as usize)?;
        let mut view = job.view.lock().expect("job lock").clone();
        view.done = view.done.max(job.done.load(Ordering::Relaxed));
        Some(view)
    }

    /// Whether a job of `kind` is still running (one recompute at a time).
    fn running(&self, kind: &str) -> Option<u64> {
        let jobs = self.jobs.lock().expect("jobs lock");
        jobs.iter().find_map(|j| {
            let v = j.view.lock().expect("job lock");
            (v.kind == kind && v.state == JobState::Running).then_some(v.id)
        })
    }
}

impl Job {
    fn finish(&self, outcome: Result<String, String>) {
        let mut view = self.view.lock().expect("job lock");
        view.done = view.done.max(self.done.load(Ordering::Relaxed));
        view.finished_at = Some(Utc::now());
        (view.state, view.message) = match outcome {
            Ok(message) => (JobState::Done, Some(message)),
            Err(message) => (JobState::Failed, Some(message)),
        };
    }
}

/// `GET /v1/segments`.
pub(crate) async fn segments(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match tokio::task::spawn_blocking(move || SegmentSummary::from_store(service.store().as_ref())).await {
        Ok(Ok(summary)) => Json(summary).into_response(),
        Ok(Err(e)) => query_failed(e),
        Err(e) => query_failed(e),
    }
}

/// `POST /v1/jobs/compute`: 202 with the job; 409 `job_running` while one
/// runs.
pub(crate) async fn start_compute(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Some(id) = service.jobs().running("compute") {
        return error_response(
            StatusCode::CONFLICT,
            "job_running",
            "invalid_request",
            format!("profiles are being recomputed already (job {id})"),
        );
    }
    let store = service.store().clone();
    let total = store.stats().ok().map(|s| s.persons);
    let (id, job) = service.jobs().start("compute", total);
    let config: InsightConfig = service.segments_config().clone();
    tokio::task::spawn_blocking(move || {
        let outcome = (|| {
            let as_of = default_as_of(store.as_ref())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "the store is empty: import or generate data first".to_string())?;
            let report =
                compute_profiles(store.as_ref(), as_of, &config, &mut |done| job.done.store(done, Ordering::Relaxed))
                    .map_err(|e| e.to_string())?;
            Ok(format!("computed {} profiles as of {}", report.profiles_written, report.as_of.to_rfc3339()))
        })();
        job.finish(outcome);
    });
    let view = service.jobs().view(id).expect("the job just started");
    (StatusCode::ACCEPTED, Json(view)).into_response()
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
