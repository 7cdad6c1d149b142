//! The ingest endpoints: authenticate, read (and gunzip) the body, decode
//! and validate, hand the messages to the writer, answer once committed.

use std::io::Read as _;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use axum::Json;
use chrono::Utc;
use cohort_collect::segment::{BodyError, CallType, Decoded, Refusal};
use cohort_store::RejectedRow;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::metrics::reason_label;
use crate::writer::{Submission, SubmitError};
use crate::AppState;

/// One refused message in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedMessage {
    /// Position in the request's batch (0 for a single call).
    pub index: usize,
    /// Its `messageId`, when readable.
    #[serde(rename = "messageId", skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The field at fault (dotted path).
    pub field: String,
    /// Why.
    pub reason: String,
}

/// A successful answer: everything accepted is committed.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// Always `true` (what Segment SDKs look for).
    pub success: bool,
    /// Messages committed.
    pub accepted: usize,
    /// Messages refused (kept in the dead-letter table).
    pub rejected: Vec<RejectedMessage>,
}

/// Handles one ingest request; `endpoint` is `None` for `/v1/batch`.
pub(crate) async fn ingest(
    state: &AppState,
    endpoint: Option<CallType>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let started = Instant::now();
    let result = handle(state, endpoint, headers, body).await;
    state.metrics.request_seconds.observe(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        let reason = match e {
            ApiError::MissingKey | ApiError::InvalidKey => Some("auth"),
            ApiError::TooLarge(_) => Some("body_too_large"),
            ApiError::Malformed(_) => Some("body_malformed"),
            _ => None,
        };
        if let Some(reason) = reason {
            state.metrics.rejected.with_label_values(&[reason]).inc();
        }
        if matches!(e, ApiError::Busy { .. }) {
            state.metrics.throttled.inc();
        }
    }
    result
}

async fn handle(
    state: &AppState,
    endpoint: Option<CallType>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    // Without an `Authorization` header the key may be the body's
    // `writeKey`, as Segment accepts: checked once the body is read.
    let key_in_body = !headers.contains_key(header::AUTHORIZATION);
    if !key_in_body {
        crate::auth::check_write(&headers, state)?;
    }
    let limit = state.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge(format!("body is over the {limit}-byte limit")))?;
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let bytes = if gzip { gunzip(&bytes, limit)? } else { bytes };
    if key_in_body {
        let key = body_write_key(&bytes).ok_or(ApiError::MissingKey)?;
        crate::auth::authorize(key.as_bytes(), &state.keys, crate::keys::Role::Write)?;
    }
    let received_at = Utc::now();
    let decoder = state.decoders.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let mut d = decoder.get();
        let out = d.decode(endpoint, &bytes, received_at);
        decoder.put(d);
        out
    })
    .await
    .map_err(|e| ApiError::Store(format!("decoder task failed: {e}")))?
    .map_err(|e| match e {
        BodyError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
        BodyError::Malformed { .. } => ApiError::Malformed(e.to_string()),
    })?;
    submit(state, endpoint, decoded).await
}

/// The body's top-level `writeKey`, if it has one (the rest is skipped unparsed).
fn body_write_key(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct KeyOnly {
        #[serde(rename = "writeKey")]
        write_key: Option<String>,
    }
    serde_json::from_slice::<KeyOnly>(bytes).ok()?.write_key.filter(|k| !k.is_empty())
}

fn gunzip(bytes: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::Malformed(format!("body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::TooLarge(format!("body is over the {limit}-byte limit once decompressed")));
    }
    Ok(Bytes::from(out))
}

async fn submit(state: &AppState, endpoint: Option<CallType>, decoded: Decoded) -> Result<Json<Accepted>, ApiError> {
    let Decoded { accepted, refused } = decoded;
    let rejected: Vec<RejectedMessage> = refused
        .iter()
        .map(|r| RejectedMessage {
            index: r.index,
            message_id: r.message_id.clone(),
            field: r.error.field.clone(),
            reason: r.error.reason.clone(),
        })
        .collect();
    let source = format!("POST /v1/{}", endpoint.map_or("batch", CallType::as_str));
    let dead: Vec<RejectedRow> = refused.into_iter().map(|r| dead_letter(&source, r)).collect();
    if accepted.is_empty() && dead.is_empty() {
        return Ok(Json(Accepted { success: true, accepted: 0, rejected }));
    }
    let count = accepted.len();
    let retry_after = state.config.retry_after_secs;
    let permit = state.writer.reserve(count + dead.len()).map_err(|_| ApiError::Busy { retry_after })?;
    state.metrics.queue_depth.set(state.writer.depth() as i64);
    let (reply, answer) = oneshot::channel();
    let refused_count = dead.len();
    state.writer.submit(Submission { messages: accepted, refused: dead, permit, reply }).map_err(|e| match e {
        SubmitError::Stopped => ApiError::ShuttingDown,
        SubmitError::Busy => ApiError::Busy { retry_after },
    })?;
    match answer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::Store(e)),
        Err(_) => return Err(ApiError::ShuttingDown),
    }
    for r in &rejected {
        state.metrics.rejected.with_label_values(&[reason_label(&r.field)]).inc();
    }
    if count == 0 && refused_count > 0 {
        let message = match rejected.as_slice() {
            [one] => format!("message refused: field {:?}: {}", one.field, one.reason),
            many => format!("all {} messages refused", many.len()),
        };
        return Err(ApiError::Invalid { message, rejected });
    }
    Ok(Json(Accepted { success: true, accepted: count, rejected }))
}

fn dead_letter(source: &str, r: Refusal) -> RejectedRow {
    let id = r.message_id.map(|id| format!(" (messageId {id:?})")).unwrap_or_default();
    RejectedRow { file: source.to_string(), line: r.index as u64 + 1, reason: format!("{}{id}", r.error), raw: r.raw }
}
