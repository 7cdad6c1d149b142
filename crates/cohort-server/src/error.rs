//! Every error the API answers, with its HTTP status and stable code,
//! rendered once as `{message, code, type, link}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Where errors are documented.
pub const ERRORS_DOC: &str = "https://github.com/cohort-shop/cohort/blob/main/docs/collection.md#errors";

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Basic` header.
    #[error("missing write key: send it as the Basic-auth user name")]
    MissingKey,
    /// A key that is not configured.
    #[error("invalid write key")]
    InvalidKey,
    /// A known key whose role does not open the route (a write key on an admin route).
    #[error("a {} key cannot call this route: it needs the {} role", role.as_str(), needed.as_str())]
    WrongRole {
        /// The key's role.
        role: crate::keys::Role,
        /// The role the route needs.
        needed: crate::keys::Role,
    },
    /// Body over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Body that is not JSON / gzip / the endpoint's shape.
    #[error("{0}")]
    Malformed(String),
    /// Every message of the request was refused; details per message.
    #[error("{message}")]
    Invalid {
        /// Summary.
        message: String,
        /// Per-message refusals.
        rejected: Vec<crate::ingest::RejectedMessage>,
    },
    /// The writer is behind: retry later.
    #[error("the writer is behind; retry after {retry_after} s")]
    Busy {
        /// Seconds.
        retry_after: u64,
    },
    /// The store failed to commit; nothing of the request was stored.
    #[error("not stored: {0}")]
    Store(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

#[derive(Serialize)]
struct Body<'a> {
    message: String,
    code: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    link: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a [crate::ingest::RejectedMessage]>,
}

impl ApiError {
    /// Status, stable code and type.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::MissingKey => (StatusCode::UNAUTHORIZED, "missing_write_key", "auth"),
            ApiError::InvalidKey => (StatusCode::UNAUTHORIZED, "invalid_write_key", "auth"),
            ApiError::WrongRole { .. } => (StatusCode::FORBIDDEN, "wrong_role", "auth"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "invalid_request"),
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_body", "invalid_request"),
            ApiError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_messages", "invalid_request"),
            ApiError::Busy { .. } => (StatusCode::TOO_MANY_REQUESTS, "writer_busy", "system"),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_failed", "internal"),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "system"),
        }
    }
}

/// An error answer in the one shape every route uses.
pub(crate) fn error_response(status: StatusCode, code: &str, kind: &str, message: String) -> Response {
    render(status, Body { message, code, kind, link: format!("{ERRORS_DOC}-{code}"), rejected: None })
}

/// 400 `invalid_input`: a parameter or body field is wrong (`message`
/// names it).
pub(crate) fn invalid_input(message: String) -> Response {
    error_response(StatusCode::BAD_REQUEST, "invalid_input", "invalid_request", message)
}

/// 500 `query_failed`: the store failed under a read.
pub(crate) fn query_failed(e: impl std::fmt::Display) -> Response {
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "query_failed", "internal", e.to_string())
}

/// [`error_response`] with one more field (`key`) carrying details, e.g.
/// the `issues` of an invalid analytics spec.
pub(crate) fn error_response_with(
    status: StatusCode,
    code: &str,
    kind: &str,
    message: String,
    key: &str,
    details: serde_json::Value,
) -> Response {
    let body = Body { message, code, kind, link: format!("{ERRORS_DOC}-{code}"), rejected: None };
    let mut value = serde_json::to_value(body).unwrap_or_default();
    value[key] = details;
    (status, axum::Json(value)).into_response()
}

fn render(status: StatusCode, body: Body<'_>) -> Response {
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, kind) = self.parts();
        let rejected = match &self {
            ApiError::Invalid { rejected, .. } => Some(rejected.as_slice()),
            _ => None,
        };
        let body = Body { message: self.to_string(), code, kind, link: format!("{ERRORS_DOC}-{code}"), rejected };
        let mut response = render(status, body);
        match &self {
            ApiError::Busy { retry_after } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::MissingKey | ApiError::InvalidKey => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"cohort\""));
            }
            _ => {}
        }
        response
    }
}
