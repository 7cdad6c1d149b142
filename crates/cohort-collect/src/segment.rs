//! Segment HTTP Tracking API messages: decoding, validation and mapping to
//! the model.
//!
//! [`SegmentDecoder::decode`] takes one request body (a single `track`,
//! `identify`, `page`, `screen` or `alias` call, or a `batch`) and returns
//! every message it accepted plus every message it refused, each refusal
//! naming the field and the reason. Only a body that is not JSON at all (or
//! not the expected shape, or too large) fails as a whole: one bad message
//! never drops the good ones beside it.
//!
//! Rules, following Segment's documentation:
//! - a body is at most 500 KiB and a message at most 32 KiB
//!   ([`Limits`]); `properties`, `traits` and `context` nest at most
//!   [`Limits::max_depth`] levels and hold at most [`Limits::max_keys`] keys;
//! - every call needs `userId` or `anonymousId` (`alias`: `userId` and
//!   `previousId`); `track` needs `event`; `identify` needs `userId`
//!   (anonymous traits have nowhere to go in Cohort);
//! - clock skew: the device's `timestamp` (or `originalTimestamp`) is
//!   corrected by the device's own clock error, `timestamp = receivedAt −
//!   (sentAt − timestamp)`, when `sentAt` is present (per message, else the
//!   batch's); without a timestamp the message gets `receivedAt`;
//! - corrected timestamps before 2000-01-01 or more than
//!   [`Limits::max_future`] after `receivedAt` are refused;
//! - a batch's top-level `context` and `integrations` are merged into each
//!   message's own, key by key, the message's keys winning;
//! - `messageId` is the event id, so a retried message is stored once; a
//!   message without one gets a content hash, so an identical retry is
//!   still recognised.
//!
//! Fields map to events and users exactly as `cohort import ndjson` maps
//! them (`properties.price` in yuan, `properties.product_id`, `traits.city`…).

use chrono::{DateTime, Duration, TimeZone, Utc};
use cohort_model::{AnonymousId, Event, EventName, ShopTime, User, UserId};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::import::SegmentMapper;

/// The Segment call types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallType {
    /// A behaviour event.
    Track,
    /// A web page view.
    Page,
    /// A mobile screen view.
    Screen,
    /// Who the user is, with traits.
    Identify,
    /// Two user ids are the same person.
    Alias,
    /// Group membership (refused: Cohort has no accounts).
    Group,
}

impl CallType {
    /// Every call that has its own endpoint.
    pub const ENDPOINTS: [CallType; 5] =
        [CallType::Track, CallType::Identify, CallType::Page, CallType::Screen, CallType::Alias];

    /// The wire name (`track`…).
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Track => "track",
            CallType::Page => "page",
            CallType::Screen => "screen",
            CallType::Identify => "identify",
            CallType::Alias => "alias",
            CallType::Group => "group",
        }
    }

    /// Parses a wire name, ignoring case.
    pub fn parse(name: &str) -> Option<CallType> {
        [CallType::Track, CallType::Page, CallType::Screen, CallType::Identify, CallType::Alias, CallType::Group]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

/// Size and shape limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest body, after decompression (Segment: 500 KB per batch).
    pub max_body_bytes: usize,
    /// Largest message (Segment: 32 KB).
    pub max_message_bytes: usize,
    /// Deepest nesting inside `properties`, `traits` or `context`.
    pub max_depth: usize,
    /// Most keys in `properties`, `traits` and `context` together, counted
    /// at every level.
    pub max_keys: usize,
    /// How far after `receivedAt` a corrected timestamp may be.
    pub max_future: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 500 * 1024,
            max_message_bytes: 32 * 1024,
            max_depth: 8,
            max_keys: 1000,
            max_future: Duration::days(1),
        }
    }
}

/// A validated message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Position in the request (0 for a single call).
    pub index: usize,
    /// The call.
    pub call: CallType,
    /// `messageId`, or a content hash when the SDK sent none.
    pub message_id: String,
    /// `userId`.
    pub user_id: Option<UserId>,
    /// `anonymousId`.
    pub anonymous_id: Option<AnonymousId>,
    /// `previousId` of an `alias`.
    pub previous_id: Option<String>,
    /// Skew-corrected instant.
    pub timestamp: DateTime<Utc>,
    /// The event of a `track`, `page` or `screen` (its person is the sender's
    /// own id until identity stitching resolves it).
    pub event: Option<Event>,
    /// The user of an `identify`.
    pub user: Option<User>,
}

/// Why one message was refused: the field (dotted path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field:?}: {reason}")]
pub struct MessageError {
    /// `timestamp`, `properties.price`, `message` for the message as a whole.
    pub field: String,
    /// Lowercase, naming the bad value.
    pub reason: String,
}

impl MessageError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        MessageError { field: field.to_string(), reason: reason.into() }
    }

    /// Splits a mapping error (`field "properties.price": invalid …`).
    fn from_mapping(text: String) -> Self {
        if let Some(rest) = text.strip_prefix("field \"") {
            if let Some((field, reason)) = rest.split_once("\": ") {
                return MessageError::new(field, reason);
            }
        }
        if let Some(start) = text.find("(field \"") {
            let field = text[start + 8..].split('"').next().unwrap_or("message");
            return MessageError::new(field, text[..start].trim_end());
        }
        MessageError::new("message", text)
    }
}

/// A refused message, for the response and the dead-letter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Position in the request.
    pub index: usize,
    /// `messageId`, when it could be read.
    pub message_id: Option<String>,
    /// Why.
    pub error: MessageError,
    /// The message as sent, truncated to 1 KiB.
    pub raw: String,
}

/// Why a whole body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Over [`Limits::max_body_bytes`].
    #[error("body is {bytes} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size received (or read so far).
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, or not the shape of the endpoint.
    #[error("body is not a valid {expected}: {reason}")]
    Malformed {
        /// `JSON object`, `batch ({"batch": [...]})`.
        expected: &'static str,
        /// The parser's reason.
        reason: String,
    },
}

/// What a body held.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Accepted messages, in request order.
    pub accepted: Vec<Message>,
    /// Refused messages, in request order.
    pub refused: Vec<Refusal>,
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    batch: Vec<&'a RawValue>,
    #[serde(rename = "sentAt", default)]
    sent_at: Option<Value>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
    #[serde(default)]
    integrations: Option<Map<String, Value>>,
}

/// What a batch body says for every message in it: `sentAt`, and the
/// `context` and `integrations` merged into each message's own (the
/// message's keys win).
#[derive(Default)]
struct Shared {
    sent_at: Option<Value>,
    context: Option<Map<String, Value>>,
    integrations: Option<Map<String, Value>>,
}

impl Shared {
    /// Adds the batch's `context` / `integrations` keys the message lacks.
    /// A message bag that is not an object is left for validation to refuse.
    fn fill(&self, object: &mut Map<String, Value>) {
        for (bag, shared) in [("context", &self.context), ("integrations", &self.integrations)] {
            let Some(shared) = shared.as_ref().filter(|m| !m.is_empty()) else { continue };
            match object.get_mut(bag) {
                None | Some(Value::Null) => {
                    object.insert(bag.into(), Value::Object(shared.clone()));
                }
                Some(Value::Object(own)) => {
                    for (key, value) in shared {
                        if !own.contains_key(key) {
                            own.insert(key.clone(), value.clone());
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// Decodes and validates request bodies. Holds the field mapping; one per
/// thread.
pub struct SegmentDecoder {
    limits: Limits,
    mapper: SegmentMapper,
}

impl std::fmt::Debug for SegmentDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentDecoder").field("limits", &self.limits).finish_non_exhaustive()
    }
}

const RAW_KEPT: usize = 1024;

impl SegmentDecoder {
    /// A decoder; naive timestamps (rare from SDKs) are read in `shop`'s zone.
    pub fn new(limits: Limits, shop: ShopTime) -> Self {
        SegmentDecoder { limits, mapper: SegmentMapper::new(shop) }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes one body: `endpoint` is the call of a single-call endpoint, or
    /// `None` for `/v1/batch`.
    pub fn decode(
        &mut self,
        endpoint: Option<CallType>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Decoded, BodyError> {
        if body.len() > self.limits.max_body_bytes {
            return Err(BodyError::TooLarge { bytes: body.len(), limit: self.limits.max_body_bytes });
        }
        self.mapper.set_now(received_at);
        let (raws, shared) = match endpoint {
            None => {
                let parsed: BatchBody<'_> = serde_json::from_slice(body).map_err(|e| BodyError::Malformed {
                    expected: "batch ({\"batch\": [...]})",
                    reason: e.to_string(),
                })?;
                let shared =
                    Shared { sent_at: parsed.sent_at, context: parsed.context, integrations: parsed.integrations };
                (parsed.batch, shared)
            }
            Some(_) => {
                let raw: &RawValue = serde_json::from_slice(body)
                    .map_err(|e| BodyError::Malformed { expected: "JSON object", reason: e.to_string() })?;
                (vec![raw], Shared::default())
            }
        };
        let mut out = Decoded::default();
        for (index, raw) in raws.into_iter().enumerate() {
            let text = raw.get();
            match self.message(index, endpoint, text, &shared, received_at) {
                Ok(message) => out.accepted.push(message),
                Err((message_id, error)) => {
                    out.refused.push(Refusal { index, message_id, error, raw: truncate(text, RAW_KEPT).to_string() })
                }
            }
        }
        Ok(out)
    }

    fn message(
        &mut self,
        index: usize,
        endpoint: Option<CallType>,
        raw: &str,
        shared: &Shared,
        received_at: DateTime<Utc>,
    ) -> Result<Message, (Option<String>, MessageError)> {
        if raw.len() > self.limits.max_message_bytes {
            let reason = format!("is {} bytes, over the {}-byte limit", raw.len(), self.limits.max_message_bytes);
            return Err((None, MessageError::new("message", reason)));
        }
        let mut object = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err((
                    None,
                    MessageError::new("message", format!("expected a JSON object, found {}", kind(&other))),
                ))
            }
            Err(e) => return Err((None, MessageError::new("message", e.to_string()))),
        };
        let message_id = match object.get("messageId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 => Some(s.clone()),
            Some(other) => {
                return Err((
                    None,
                    MessageError::new(
                        "messageId",
                        format!("expected a non-empty string of at most 256 bytes, found {}", short(other)),
                    ),
                ))
            }
        };
        let known_id = message_id.clone();
        shared.fill(&mut object);
        self.validate(endpoint, &mut object, raw, message_id, shared.sent_at.as_ref(), received_at, index)
            .map_err(|e| (known_id, e))
    }

    #[allow(clippy::too_many_arguments)]
    fn validate(
        &mut self,
        endpoint: Option<CallType>,
        object: &mut Map<String, Value>,
        raw: &str,
        message_id: Option<String>,
        batch_sent_at: Option<&Value>,
        received_at: DateTime<Utc>,
        index: usize,
    ) -> Result<Message, MessageError> {
        let call = call_type(endpoint, object)?;
        if call == CallType::Group {
            return Err(MessageError::new("type", "group calls are not supported (Cohort has no accounts)"));
        }
        let user_id = id_field(object, "userId", UserId::new)?;
        let anonymous_id = id_field(object, "anonymousId", AnonymousId::new)?;
        let previous_id = id_field(object, "previousId", Ok::<_, cohort_model::ModelError>)?;
        match call {
            CallType::Alias if user_id.is_none() => {
                return Err(MessageError::new("userId", "missing: an alias call needs the new userId"))
            }
            CallType::Alias if previous_id.is_none() => {
                return Err(MessageError::new("previousId", "missing: an alias call needs the previousId it merges"))
            }
            CallType::Identify if user_id.is_none() => {
                return Err(MessageError::new(
                    "userId",
                    "missing: identify needs a userId (traits of anonymous visitors are not stored)",
                ))
            }
            _ if user_id.is_none() && anonymous_id.is_none() => {
                return Err(MessageError::new("userId", "missing: a message needs userId or anonymousId"))
            }
            _ => {}
        }
        if call == CallType::Track {
            match object.get("event") {
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    if s.len() > 200 {
                        return Err(MessageError::new("event", "longer than 200 bytes"));
                    }
                }
                None | Some(Value::Null) => {
                    return Err(MessageError::new("event", "missing: a track call needs an event name"))
                }
                Some(other) => {
                    return Err(MessageError::new(
                        "event",
                        format!("expected a non-empty string, found {}", short(other)),
                    ))
                }
            }
        }
        let mut keys = 0;
        for bag in ["properties", "traits", "context"] {
            match object.get(bag) {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => check_shape(map, bag, 1, &self.limits, &mut keys)?,
                Some(other) => {
                    return Err(MessageError::new(bag, format!("expected an object, found {}", kind(other))))
                }
            }
        }
        let timestamp = self.corrected_timestamp(object, batch_sent_at, received_at)?;
        let message_id = message_id.unwrap_or_else(|| content_id(raw));
        object.insert("messageId".into(), Value::String(message_id.clone()));
        object.insert("timestamp".into(), Value::String(timestamp.to_rfc3339()));
        let (mut event, mut user) = (None, None);
        match call {
            CallType::Track | CallType::Page | CallType::Screen => {
                if call != CallType::Track {
                    object.insert("event".into(), Value::String(EventName::PageViewed.as_str().into()));
                }
                if !has_platform(object) {
                    if let Some(platform) = infer_platform(call, object) {
                        object.insert("platform".into(), Value::String(platform.into()));
                    }
                }
                event = Some(self.mapper.event(object).map_err(MessageError::from_mapping)?);
            }
            CallType::Identify => user = Some(self.mapper.user(object).map_err(MessageError::from_mapping)?),
            CallType::Alias | CallType::Group => {}
        }
        Ok(Message { index, call, message_id, user_id, anonymous_id, previous_id, timestamp, event, user })
    }

    /// `receivedAt − (sentAt − timestamp)`, checked against the limits.
    fn corrected_timestamp(
        &self,
        object: &Map<String, Value>,
        batch_sent_at: Option<&Value>,
        received_at: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, MessageError> {
        let device = match instant(object, "timestamp")? {
            Some(t) => Some(t),
            None => instant(object, "originalTimestamp")?,
        };
        let sent_at = match instant(object, "sentAt")? {
            Some(t) => Some(t),
            None => batch_sent_at.map(|v| parse_instant("sentAt", v)).transpose()?,
        };
        let at = match (device, sent_at) {
            (Some(device), Some(sent)) => received_at - (sent - device),
            (Some(device), None) => device,
            (None, _) => received_at,
        };
        let earliest = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().expect("valid instant");
        if at < earliest {
            return Err(MessageError::new("timestamp", format!("{} is before 2000-01-01", at.to_rfc3339())));
        }
        if at > received_at + self.limits.max_future {
            let hours = self.limits.max_future.num_hours();
            return Err(MessageError::new(
                "timestamp",
                format!(
                    "{} is more than {hours} hours after the server's clock (after clock-skew correction)",
                    at.to_rfc3339()
                ),
            ));
        }
        Ok(at)
    }
}

fn call_type(endpoint: Option<CallType>, object: &Map<String, Value>) -> Result<CallType, MessageError> {
    let sent = match object.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(CallType::parse(s).ok_or_else(|| {
            MessageError::new(
                "type",
                format!("unknown call type {s:?} (expected track, identify, page, screen or alias)"),
            )
        })?),
        Some(other) => return Err(MessageError::new("type", format!("expected a string, found {}", short(other)))),
    };
    match (endpoint, sent) {
        (Some(endpoint), Some(sent)) if endpoint != sent => Err(MessageError::new(
            "type",
            format!("is {:?} but the endpoint is /v1/{}", sent.as_str(), endpoint.as_str()),
        )),
        (Some(endpoint), _) => Ok(endpoint),
        (None, Some(sent)) => Ok(sent),
        (None, None) => Err(MessageError::new("type", "missing: every message in a batch needs a type")),
    }
}

/// A string (or integer, as some SDKs send user ids) id field.
fn id_field<T, E: std::fmt::Display>(
    object: &Map<String, Value>,
    field: &str,
    make: impl FnOnce(String) -> Result<T, E>,
) -> Result<Option<T>, MessageError> {
    let text = match object.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(other) => return Err(MessageError::new(field, format!("expected a string, found {}", short(other)))),
    };
    if text.len() > 256 {
        return Err(MessageError::new(field, "longer than 256 bytes"));
    }
    make(text).map(Some).map_err(|e| MessageError::new(field, e.to_string()))
}

fn instant(object: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, MessageError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_instant(field, v).map(Some),
    }
}

fn parse_instant(field: &str, value: &Value) -> Result<DateTime<Utc>, MessageError> {
    let Value::String(text) = value else {
        return Err(MessageError::new(field, format!("expected an ISO 8601 string, found {}", short(value))));
    };
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        MessageError::new(
            field,
            format!(
                "invalid timestamp {:?}: expected ISO 8601 with a zone (2024-05-01T08:00:00.000Z)",
                truncate(text, 64)
            ),
        )
    })
}

fn check_shape(
    map: &Map<String, Value>,
    path: &str,
    depth: usize,
    limits: &Limits,
    keys: &mut usize,
) -> Result<(), MessageError> {
    if depth > limits.max_depth {
        return Err(MessageError::new(path, format!("nested deeper than {} levels", limits.max_depth)));
    }
    *keys += map.len();
    if *keys > limits.max_keys {
        return Err(MessageError::new(
            path,
            format!("more than {} keys in properties, traits and context", limits.max_keys),
        ));
    }
    for (key, value) in map {
        let nested = |m: &Map<String, Value>, keys: &mut usize| {
            check_shape(m, &format!("{path}.{key}"), depth + 1, limits, keys)
        };
        match value {
            Value::Object(m) => nested(m, keys)?,
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(m) = item {
                        nested(m, keys)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn has_platform(object: &Map<String, Value>) -> bool {
    object.get("platform").is_some_and(|v| !v.is_null())
        || object.get("properties").and_then(|p| p.get("platform")).is_some_and(|v| !v.is_null())
}

/// The platform from what SDKs put in `context`: mini-program libraries,
/// mobile apps (`context.app`, iOS / Android), web (`analytics.js`, a page
/// or a user agent); a `screen` call is an app.
fn infer_platform(call: CallType, object: &Map<String, Value>) -> Option<&'static str> {
    let context = object.get("context").and_then(Value::as_object);
    let text = |path: &[&str]| -> String {
        let mut value = context.map(|c| c as &Map<String, Value>);
        let mut out = None;
        for (i, key) in path.iter().enumerate() {
            let v = value.and_then(|m| m.get(*key));
            if i + 1 == path.len() {
                out = v.and_then(Value::as_str).map(str::to_ascii_lowercase);
            } else {
                value = v.and_then(Value::as_object);
            }
        }
        out.unwrap_or_default()
    };
    let library = text(&["library", "name"]);
    let os = text(&["os", "name"]);
    let has = |key: &str| context.is_some_and(|c| c.contains_key(key));
    if ["miniprogram", "mini-program", "mini_program", "weapp", "wechat"].iter().any(|m| library.contains(m)) {
        Some("mini_program")
    } else if call == CallType::Screen
        || has("app")
        || os == "ios"
        || os == "android"
        || library.contains("ios")
        || library.contains("android")
    {
        Some("app")
    } else if library.contains("analytics.js") || library.contains("analytics-next") || has("page") || has("userAgent")
    {
        Some("web")
    } else {
        None
    }
}

fn content_id(raw: &str) -> String {
    let digest = Sha256::digest(raw.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message: its kind, and the text of short scalars.
fn short(value: &Value) -> String {
    match value {
        Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            format!("{} {}", kind(value), truncate(&value.to_string(), 64))
        }
        other => kind(other).to_string(),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
