use chrono::TimeZone;
use proptest::prelude::*;
use serde_json::json;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

fn decoder() -> SegmentDecoder {
    SegmentDecoder::new(Limits::default(), ShopTime::default())
}

fn decode(endpoint: Option<CallType>, body: serde_json::Value) -> Decoded {
    decoder().decode(endpoint, body.to_string().as_bytes(), now()).unwrap()
}

fn refusal(endpoint: Option<CallType>, message: serde_json::Value) -> MessageError {
    let decoded = decode(endpoint, message);
    assert!(decoded.accepted.is_empty(), "expected a refusal, got {:?}", decoded.accepted);
    decoded.refused.into_iter().next().unwrap().error
}

#[test]
fn a_track_call_maps_like_an_ndjson_import() {
    let d = decode(
        Some(CallType::Track),
        json!({
            "userId": "u1", "anonymousId": "dev-1", "event": "Product Viewed", "messageId": "m-1",
            "timestamp": "2024-05-01T10:00:00Z",
            "properties": {"product_id": "p1", "price": 19.9, "colour": "红色"},
            "context": {"library": {"name": "analytics.js"}}
        }),
    );
    let m = &d.accepted[0];
    let e = m.event.as_ref().unwrap();
    assert_eq!((m.message_id.as_str(), e.id.as_str()), ("m-1", "m-1"));
    assert_eq!(e.name, EventName::ProductViewed);
    assert_eq!(e.price, Some(cohort_model::Money::from_fen(1990)));
    assert_eq!(e.platform, Some(cohort_model::Platform::Web), "inferred from analytics.js");
    assert_eq!(e.properties.get("colour").and_then(|v| v.as_str()), Some("红色"));
    assert_eq!(e.timestamp, Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap());
}

#[test]
fn clock_skew_is_corrected_with_sent_at() {
    // The device clock runs 1 hour fast: sent "13:00" at server time 12:00.
    let d = decode(
        None,
        json!({"batch": [
            {"type": "track", "event": "Checked In", "userId": "u1",
             "timestamp": "2024-05-01T12:30:00Z", "sentAt": "2024-05-01T13:00:00Z"},
            {"type": "page", "anonymousId": "a1", "timestamp": "2024-05-01T12:50:00Z"},
            {"type": "screen", "anonymousId": "a1"}
        ], "sentAt": "2024-05-01T13:00:00Z"}),
    );
    let at: Vec<String> = d.accepted.iter().map(|m| m.timestamp.format("%H:%M").to_string()).collect();
    assert_eq!(at, ["11:30", "11:50", "12:00"], "per-message sentAt, batch sentAt, receivedAt");
    assert_eq!(d.accepted[2].event.as_ref().unwrap().platform, Some(cohort_model::Platform::App));
    assert_eq!(d.accepted[1].event.as_ref().unwrap().name, EventName::PageViewed);
}

#[test]
fn batch_context_and_integrations_reach_every_message() {
    let d = decode(
        None,
        json!({"batch": [
            {"type": "track", "event": "Checked In", "userId": "u1", "properties": {"k": 1}},
            {"type": "track", "event": "Checked In", "userId": "u1",
             "context": {"library": {"name": "mp-weapp"}, "locale": "zh-CN"},
             "integrations": {"All": true}},
            {"type": "identify", "userId": "u1", "traits": {"city": "杭州"}},
            {"type": "track", "event": "Checked In", "userId": "u1", "context": "not an object"}
        ],
        "context": {"app": {"name": "Shop", "version": "3.1"}, "device": {"model": "iPhone15,2"},
                    "library": {"name": "analytics-ios"}, "locale": "en-US"},
        "integrations": {"All": false, "Mixpanel": true}}),
    );
    assert_eq!(d.accepted.len(), 3);
    let platforms: Vec<_> = d.accepted[..2].iter().map(|m| m.event.as_ref().unwrap().platform).collect();
    assert_eq!(
        platforms,
        [Some(cohort_model::Platform::App), Some(cohort_model::Platform::MiniProgram)],
        "inferred from the batch's context.app, unless the message's own context.library says otherwise"
    );
    assert_eq!(d.refused.len(), 1);
    assert_eq!((d.refused[0].index, d.refused[0].error.field.as_str()), (3, "context"), "a bad own context is refused");

    // What the mapper sees: each message's context and integrations,
    // filled in from the batch's where the message has no key of its own.
    let mut seen = Vec::new();
    let shared = Shared {
        sent_at: None,
        context: json!({"app": {"name": "Shop"}, "device": {"model": "X"}, "locale": "en-US"}).as_object().cloned(),
        integrations: json!({"All": false, "Mixpanel": true}).as_object().cloned(),
    };
    for message in [
        json!({"type": "track"}),
        json!({"type": "track", "context": {"locale": "zh-CN", "device": {"id": "d1"}}, "integrations": {"All": true}}),
    ] {
        let mut object = message.as_object().unwrap().clone();
        shared.fill(&mut object);
        seen.push(Value::Object(object));
    }
    assert_eq!(seen[0]["context"], json!({"app": {"name": "Shop"}, "device": {"model": "X"}, "locale": "en-US"}));
    assert_eq!(seen[0]["integrations"], json!({"All": false, "Mixpanel": true}));
    assert_eq!(
        seen[1]["context"],
        json!({"app": {"name": "Shop"}, "device": {"id": "d1"}, "locale": "zh-CN"}),
        "the message's own context keys win"
    );
    assert_eq!(seen[1]["integrations"], json!({"All": true, "Mixpanel": true}), "the message's own key wins");

    let error = decoder().decode(None, br#"{"batch": [], "context": 3}"#, now()).unwrap_err();
    assert!(matches!(error, BodyError::Malformed { .. }), "a batch context that is not an object: {error}");
}

#[test]
fn each_bad_message_names_its_field() {
    let cases = [
        (json!({"type": "track", "userId": "u"}), "event"),
        (json!({"type": "track", "event": "x"}), "userId"),
        (json!({"type": "track", "event": "x", "userId": true}), "userId"),
        (json!({"type": "fly", "userId": "u"}), "type"),
        (json!({"userId": "u", "event": "x"}), "type"),
        (json!({"type": "group", "userId": "u"}), "type"),
        (json!({"type": "identify", "anonymousId": "a"}), "userId"),
        (json!({"type": "alias", "userId": "u"}), "previousId"),
        (json!({"type": "track", "event": "x", "userId": "u", "timestamp": "1999-12-31T00:00:00Z"}), "timestamp"),
        (json!({"type": "track", "event": "x", "userId": "u", "timestamp": "2030-01-01T00:00:00Z"}), "timestamp"),
        (json!({"type": "track", "event": "x", "userId": "u", "timestamp": "yesterday"}), "timestamp"),
        (json!({"type": "track", "event": "x", "userId": "u", "sentAt": 5}), "sentAt"),
        (json!({"type": "track", "event": "x", "userId": "u", "properties": []}), "properties"),
        (json!({"type": "track", "event": "x", "userId": "u", "properties": {"price": "abc"}}), "properties.price"),
        (json!({"type": "track", "event": "x", "userId": "u", "messageId": 7}), "messageId"),
        (
            json!({"type": "track", "event": "x", "userId": "u", "properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}),
            "properties.a.b.c.d.e.f.g.h",
        ),
        (json!(["not", "an", "object"]), "message"),
    ];
    for (message, field) in cases {
        let error = refusal(None, json!({ "batch": [message.clone()] }));
        assert_eq!(error.field, field, "{message}: {error}");
        assert!(!error.reason.is_empty());
    }
    let error = refusal(Some(CallType::Track), json!({"type": "identify", "userId": "u"}));
    assert_eq!(error.field, "type");
    assert!(error.reason.contains("/v1/track"), "{error}");
}

#[test]
fn limits_apply_to_messages_and_bodies() {
    let big = "x".repeat(40 * 1024);
    let error =
        refusal(None, json!({"batch": [{"type": "track", "event": "x", "userId": "u", "properties": {"blob": big}}]}));
    assert_eq!(error.field, "message");
    assert!(error.reason.contains("32768"), "{error}");
    let many: serde_json::Map<String, Value> = (0..1001).map(|i| (format!("k{i}"), json!(i))).collect();
    let error = refusal(None, json!({"batch": [{"type": "track", "event": "x", "userId": "u", "properties": many}]}));
    assert_eq!(error.field, "properties");
    let body = vec![b' '; 501 * 1024];
    assert!(matches!(decoder().decode(None, &body, now()), Err(BodyError::TooLarge { .. })));
    assert!(matches!(decoder().decode(None, b"{\"batch\": 3}", now()), Err(BodyError::Malformed { .. })));
    assert!(matches!(decoder().decode(Some(CallType::Track), b"{", now()), Err(BodyError::Malformed { .. })));
}

#[test]
fn a_bad_message_does_not_drop_its_neighbours() {
    let d = decode(
        None,
        json!({"batch": [
            {"type": "track", "event": "Checked In", "userId": "u1", "messageId": "ok-1"},
            {"type": "track", "userId": "u1", "messageId": "bad"},
            {"type": "identify", "userId": "u1", "anonymousId": "a", "traits": {"city": "杭州"}},
            {"type": "alias", "userId": "u2", "previousId": "u1"}
        ]}),
    );
    let accepted: Vec<usize> = d.accepted.iter().map(|m| m.index).collect();
    assert_eq!(accepted, [0, 2, 3]);
    assert_eq!(d.refused[0].index, 1);
    assert_eq!(d.refused[0].message_id.as_deref(), Some("bad"));
    assert_eq!(d.accepted[1].user.as_ref().unwrap().city.as_deref(), Some("杭州"));
    assert_eq!(d.accepted[2].previous_id.as_deref(), Some("u1"));
}

#[test]
fn a_message_without_an_id_gets_a_stable_content_id() {
    let body = json!({"userId": "u", "event": "x", "timestamp": "2024-05-01T10:00:00Z"});
    let first = decode(Some(CallType::Track), body.clone()).accepted.remove(0);
    let again = decode(Some(CallType::Track), body).accepted.remove(0);
    assert!(first.message_id.starts_with("sha256:"));
    assert_eq!(first.message_id, again.message_id, "an identical retry is recognised");
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9 :._-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("track"),
            Just("identify"),
            Just("page"),
            Just("alias"),
            Just("2024-05-01T10:00:00Z"),
            Just("1999-01-01T00:00:00Z"),
            Just("userId"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("type".to_string()),
                        Just("userId".to_string()),
                        Just("anonymousId".to_string()),
                        Just("event".to_string()),
                        Just("timestamp".to_string()),
                        Just("sentAt".to_string()),
                        Just("properties".to_string()),
                        Just("traits".to_string()),
                        Just("previousId".to_string()),
                        Just("messageId".to_string()),
                        Just("context".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut d = decoder();
        for endpoint in [None, Some(CallType::Track), Some(CallType::Identify), Some(CallType::Alias)] {
            let _ = d.decode(endpoint, &body, now());
        }
    }

    #[test]
    fn arbitrary_json_never_panics_and_accounts_for_every_message(messages in prop::collection::vec(json_value(), 0..8)) {
        let body = json!({ "batch": messages.clone() }).to_string();
        let decoded = decoder().decode(None, body.as_bytes(), now()).unwrap();
        prop_assert_eq!(decoded.accepted.len() + decoded.refused.len(), messages.len());
        for m in messages {
            let _ = decoder().decode(Some(CallType::Page), m.to_string().as_bytes(), now());
        }
    }
}
