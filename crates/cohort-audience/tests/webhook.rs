//! Audience exports to a real HTTP receiver started here: the signature
//! verifies with the shared secret, a 503 is retried until the 200, a 400
//! is not retried, and a receiver that keeps failing (or is not there)
//! fails the export after the configured attempts, naming each outcome.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use cohort_audience::webhook::{deliver, verify_signature, WebhookTarget};
use cohort_audience::{export, AudienceError, ExportFormat, MemberRow};
use cohort_model::PersonId;

const SECRET: &str = "whsec_test";

/// What the receiver got: (timestamp, signature, delivery, audience, body).
type Received = Vec<(i64, String, String, String, Vec<u8>)>;

#[derive(Clone, Default)]
struct Receiver {
    answers: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Received>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    r.received.lock().unwrap().push((
        h("x-cohort-timestamp").parse().unwrap_or(0),
        h("x-cohort-signature"),
        h("x-cohort-delivery"),
        h("x-cohort-audience"),
        body.to_vec(),
    ));
    let status = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// Starts a receiver answering `answers` in turn (then 200); its URL.
async fn receiver(answers: &[u16]) -> (String, Receiver) {
    let r = Receiver { answers: Arc::new(Mutex::new(answers.iter().copied().collect())), ..Receiver::default() };
    let app = Router::new().route("/hook", post(receive)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, r)
}

fn target(url: &str, attempts: u32) -> WebhookTarget {
    WebhookTarget {
        max_attempts: attempts,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        ..WebhookTarget::new(url, SECRET)
    }
}

fn body() -> Vec<u8> {
    let rows: Vec<MemberRow> = ["u1", "u2"]
        .iter()
        .map(|id| MemberRow {
            person_id: PersonId::new(*id).unwrap(),
            phone: Some("138****5678".into()),
            city: Some("上海".into()),
            gender: None,
            value_tier: Some("high_value".into()),
            lifecycle: None,
            behaviour: None,
            tags: vec!["new_parent".into()],
        })
        .collect();
    let mut out = Vec::new();
    export(&rows, ExportFormat::Ndjson, &mut out).unwrap();
    out
}

#[tokio::test]
async fn a_503_is_retried_and_every_attempt_is_signed() {
    let (url, r) = receiver(&[503]).await;
    let body = body();
    let delivery = deliver(&target(&url, 5), "mums", "mums-1700000000", &body).await.unwrap();
    assert_eq!((delivery.attempts, delivery.status), (2, 200));
    let got = r.received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one retry after the 503");
    for (ts, sig, id, audience, received) in &got {
        assert_eq!(received, &body);
        assert!(verify_signature(SECRET, *ts, received, sig), "signature {sig} at {ts}");
        assert!(!verify_signature("wrong", *ts, received, sig));
        assert_eq!((id.as_str(), audience.as_str()), ("mums-1700000000", "mums"));
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60, "signed now");
    }
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (url, r) = receiver(&[400]).await;
    let err = deliver(&target(&url, 5), "mums", "d1", &body()).await.unwrap_err();
    assert_eq!(r.received.lock().unwrap().len(), 1);
    match &err {
        AudienceError::Webhook { attempts, outcomes, .. } => {
            assert_eq!(*attempts, 1);
            assert!(outcomes.starts_with("attempt 1: HTTP 400") && outcomes.ends_with("(not retried)"), "{outcomes}");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn persistent_failures_end_after_the_attempts() {
    let (url, r) = receiver(&[503, 429, 500, 200]).await;
    let err = deliver(&target(&url, 3), "mums", "d2", &body()).await.unwrap_err().to_string();
    assert_eq!(r.received.lock().unwrap().len(), 3, "the fourth answer (200) is never asked for");
    assert!(err.contains("after 3 attempt(s): attempt 1: HTTP 503; attempt 2: HTTP 429; attempt 3: HTTP 500"), "{err}");

    // Nobody listening: connection errors are transient too.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let err = deliver(&target(&closed, 2), "mums", "d3", &body()).await.unwrap_err().to_string();
    assert!(err.contains("after 2 attempt(s): attempt 1: request failed"), "{err}");
}
