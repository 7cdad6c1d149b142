//! A real webhook receiver on 127.0.0.1:0 and an outbox on a temp SQLite
//! file with a manual clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use cohort_engage::channel::{
    verify_signature, ChannelKind, MessageClass, Rendered, Sink, WebhookConfig, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use cohort_engage::clock::ManualClock;
use cohort_engage::outbox::{NewMessage, Outbox, OutboxOptions};
use cohort_model::{PersonId, ShopTime};

pub const SECRET: &str = "test-secret-密钥";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: serde_json::Value,
    pub signature_ok: bool,
    pub message_id: String,
}

#[derive(Default)]
pub struct ReceiverState {
    pub received: Mutex<Vec<Received>>,
    /// Requests seen per recipient (to script failures).
    seen: Mutex<HashMap<String, u32>>,
}

/// Recipients script the answer: `fail2:*` answers 503 twice then 200,
/// `down:*` always 500, `bad:*` 400, anything else 200.
async fn hook(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let ts: i64 = headers.get(TIMESTAMP_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    let sig = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let signature_ok = verify_signature(SECRET, ts, &body, sig);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let recipient = json["recipient"].as_str().unwrap_or("").to_string();
    let message_id = headers.get("x-cohort-message-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let n = {
        let mut seen = state.seen.lock().unwrap();
        let n = seen.entry(recipient.clone()).or_default();
        *n += 1;
        *n
    };
    state.received.lock().unwrap().push(Received { body: json, signature_ok, message_id });
    if recipient.starts_with("fail2:") && n <= 2 {
        StatusCode::SERVICE_UNAVAILABLE
    } else if recipient.starts_with("down:") {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if recipient.starts_with("bad:") {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// Starts the receiver; returns its URL and state.
pub async fn receiver() -> (String, Arc<ReceiverState>) {
    let state = Arc::new(ReceiverState::default());
    let app = Router::new().route("/hook", post(hook)).with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), state)
}

/// 2024-05-01 10:00 Shanghai.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 2, 0, 0).unwrap()
}

pub struct Env {
    pub outbox: Outbox,
    pub clock: Arc<ManualClock>,
    pub state: Arc<ReceiverState>,
    pub dir: tempfile::TempDir,
}

/// An outbox with every webhook channel pointing at a fresh receiver
/// (3 attempts, 30 s base backoff) and the console channel writing to a file.
pub async fn env() -> Env {
    let (url, state) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let outbox = open(&dir, &url, Arc::clone(&clock)).await;
    Env { outbox, clock, state, dir }
}

pub async fn open(dir: &tempfile::TempDir, url: &str, clock: Arc<ManualClock>) -> Outbox {
    let mut options = OutboxOptions::default();
    let hook =
        WebhookConfig { max_attempts: 3, backoff_base_s: 30, timeout_ms: 2_000, ..WebhookConfig::new(url, SECRET) };
    for kind in [ChannelKind::Sms, ChannelKind::AppPush, ChannelKind::WeCom, ChannelKind::Email, ChannelKind::InApp] {
        options.sinks.insert(kind, Sink::Webhook(hook.clone()));
    }
    options.sinks.insert(ChannelKind::Console, Sink::File { path: dir.path().join("console.jsonl") });
    Outbox::open_sqlite(&dir.path().join("engage.db"), ShopTime::default(), clock, options).await.unwrap()
}

pub fn msg(key: &str, person: &str, channel: ChannelKind, class: MessageClass, recipient: &str) -> NewMessage {
    NewMessage {
        dedupe_key: key.to_string(),
        person: PersonId::new(person).unwrap(),
        channel,
        class,
        source: "test".to_string(),
        recipient: recipient.to_string(),
        content: Rendered {
            subject: "好久不见".to_string(), body: format!("{person}，送您¥10无门槛券。回T退订")
        },
        send_at: None,
    }
}
