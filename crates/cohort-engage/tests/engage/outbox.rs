//! The outbox against a real HTTP receiver: signing, retries with backoff,
//! dead-lettering, frequency caps, quiet hours, do-not-contact, dedupe and
//! durability across a restart.

use chrono::{Duration, TimeZone, Utc};
use cohort_engage::channel::ChannelKind::{AppPush, Console, Email, Sms, WeCom};
use cohort_engage::channel::MessageClass::{Marketing, Transactional};
use cohort_engage::outbox::{DispatchReport, Engagement, Enqueued, MessageStatus, Preference};
use cohort_model::PersonId;

use crate::common::{self, env, msg, t0};

fn report(claimed: u64, delivered: u64, retried: u64, dead: u64) -> DispatchReport {
    DispatchReport { claimed, delivered, retried, dead }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivers_signed_chinese_messages() {
    let e = env().await;
    for (i, ch) in [Sms, AppPush, WeCom].into_iter().enumerate() {
        let r = e.outbox.enqueue(msg(&format!("k{i}"), &format!("p{i}"), ch, Marketing, "13800000000")).await.unwrap();
        assert!(matches!(r, Enqueued::Scheduled { deferred: false, .. }), "{r:?}");
    }
    assert_eq!(e.outbox.dispatch_due(100).await.unwrap(), report(3, 3, 0, 0));
    let got = e.state.received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.signature_ok), "every request carries a valid HMAC-SHA256 signature");
    let first = got.iter().find(|r| r.body["person_id"] == "p0").unwrap();
    assert_eq!(first.body["body"], "p0，送您¥10无门槛券。回T退订");
    assert_eq!(first.body["channel"], "sms");
    assert_eq!(first.body["attempt"], 1);
    assert_eq!(first.message_id, first.body["id"].to_string());
    let m = e.outbox.message(first.body["id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(m.status, MessageStatus::Delivered);
    assert_eq!(m.delivered_at, Some(t0()));
    assert_eq!(m.last_http_status, Some(200));
    let attempts = e.outbox.attempts(m.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].outcome.as_str(), attempts[0].http_status), ("delivered", Some(200)));
    // Nothing left, and engagement reported back is counted once.
    assert_eq!(e.outbox.dispatch_due(100).await.unwrap(), report(0, 0, 0, 0));
    e.outbox.record_engagement(m.id, Engagement::Opened).await.unwrap();
    e.outbox.record_engagement(m.id, Engagement::Opened).await.unwrap();
    e.outbox.record_engagement(m.id, Engagement::Clicked).await.unwrap();
    let c = e.outbox.counts("test").await.unwrap();
    assert_eq!((c.total, c.delivered, c.opened, c.clicked), (3, 3, 1, 1));
    assert!(e.outbox.record_engagement(999, Engagement::Opened).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_exponential_backoff_then_dead_letters() {
    let e = env().await;
    let ok = e.outbox.enqueue(msg("a", "pa", Sms, Transactional, "fail2:138")).await.unwrap().id();
    let down = e.outbox.enqueue(msg("b", "pb", Sms, Transactional, "down:139")).await.unwrap().id();
    let bad = e.outbox.enqueue(msg("c", "pc", Email, Transactional, "bad:x@y")).await.unwrap().id();
    // Attempt 1 at t0: 503, 500 (retry in 30 s), 400 (permanent: dead at once).
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(3, 0, 2, 1));
    let m = e.outbox.message(bad).await.unwrap();
    assert_eq!((m.status, m.attempts, m.last_http_status), (MessageStatus::Dead, 1, Some(400)));
    assert_eq!(e.outbox.message(ok).await.unwrap().due_at, t0() + Duration::seconds(30));
    // Not due yet at +29 s.
    e.clock.advance(Duration::seconds(29));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(0, 0, 0, 0));
    // Attempt 2 at +30 s: both fail again; next wait doubles to 60 s.
    e.clock.advance(Duration::seconds(1));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(2, 0, 2, 0));
    assert_eq!(e.outbox.message(ok).await.unwrap().due_at, t0() + Duration::seconds(90));
    e.clock.advance(Duration::seconds(59));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(0, 0, 0, 0));
    // Attempt 3 at +90 s: fail2 succeeds, down is dead-lettered (N = 3).
    e.clock.advance(Duration::seconds(1));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(2, 1, 0, 1));
    let m = e.outbox.message(ok).await.unwrap();
    assert_eq!(
        (m.status, m.attempts, m.delivered_at),
        (MessageStatus::Delivered, 3, Some(t0() + Duration::seconds(90)))
    );
    let m = e.outbox.message(down).await.unwrap();
    assert_eq!((m.status, m.attempts, m.reason.as_str()), (MessageStatus::Dead, 3, "failed 3 attempts"));
    let log: Vec<(u32, String, Option<u16>)> =
        e.outbox.attempts(down).await.unwrap().into_iter().map(|a| (a.attempt, a.outcome, a.http_status)).collect();
    assert_eq!(
        log,
        vec![(1, "retry".into(), Some(500)), (2, "retry".into(), Some(500)), (3, "dead".into(), Some(500))]
    );
    // The receiver saw exactly 3 + 3 + 1 requests; dead messages stay dead.
    assert_eq!(e.state.received.lock().unwrap().len(), 7);
    e.clock.advance(Duration::hours(2));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(0, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frequency_caps_hold_across_all_channels() {
    let e = env().await;
    let day = Duration::days(1);
    let at = |d: i64| Some(t0() + day * d as i32);
    let m = |key: &str, ch, class, d: i64| {
        let mut m = msg(key, "p1", ch, class, "138");
        m.send_at = at(d);
        m
    };
    let outcomes = e
        .outbox
        .enqueue_batch(vec![
            m("d0-sms", Sms, Marketing, 0),
            m("d0-push", AppPush, Marketing, 0),  // 2nd on day 0: over 1/day
            m("d0-order", Sms, Transactional, 0), // transactional: never capped
            m("d2-wecom", WeCom, Marketing, 2),
            m("d4-email", Email, Marketing, 4),
            m("d5-sms", Sms, Marketing, 5), // 4th within May 1–7: over 3/week
            m("d7-sms", Sms, Marketing, 7), // May 8: window May 2–8 holds May 3, 5
            m("d8-sms", Sms, Marketing, 8), // May 3–9 holds May 3, 5, 8: over
            m("d9-sms", Sms, Marketing, 9), // May 4–10 holds May 5, 8 only: ok
        ])
        .await
        .unwrap();
    let reasons: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Enqueued::Scheduled { .. } => "ok".to_string(),
            Enqueued::Suppressed { reason, .. } => reason.clone(),
            Enqueued::Duplicate { .. } => "dup".to_string(),
        })
        .collect();
    assert_eq!(
        reasons,
        vec!["ok", "frequency_cap_day", "ok", "ok", "ok", "frequency_cap_week", "ok", "frequency_cap_week", "ok"]
    );
    // Another person is not affected.
    let other = e.outbox.enqueue(msg("other", "p2", Sms, Marketing, "139")).await.unwrap();
    assert!(matches!(other, Enqueued::Scheduled { .. }));
    // Dedupe: the same key gives the first message back.
    let again = e.outbox.enqueue(m("d0-sms", Sms, Marketing, 0)).await.unwrap();
    assert_eq!(again, Enqueued::Duplicate { id: outcomes[0].id() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_defer_marketing_but_not_transactional() {
    let e = env().await;
    // 23:00 Shanghai on May 1 = 15:00 UTC.
    let late = Utc.with_ymd_and_hms(2024, 5, 1, 15, 0, 0).unwrap();
    e.clock.set(late);
    let mk = e.outbox.enqueue(msg("mk", "p1", Sms, Marketing, "138")).await.unwrap();
    let eight = Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap();
    assert_eq!(mk, Enqueued::Scheduled { id: mk.id(), due_at: eight, deferred: true });
    let tx = e.outbox.enqueue(msg("tx", "p2", Sms, Transactional, "139")).await.unwrap();
    assert!(matches!(tx, Enqueued::Scheduled { deferred: false, .. }));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(1, 1, 0, 0));
    e.clock.set(eight - Duration::seconds(1));
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(0, 0, 0, 0));
    e.clock.set(eight);
    assert_eq!(e.outbox.dispatch_due(10).await.unwrap(), report(1, 1, 0, 0));
    assert_eq!(e.outbox.message(mk.id()).await.unwrap().delivered_at, Some(eight));
    // The deferred message counts against May 2's cap, not May 1's.
    let mut next = msg("mk2", "p1", Sms, Marketing, "138");
    next.send_at = Some(eight + Duration::hours(2));
    assert!(matches!(e.outbox.enqueue(next).await.unwrap(), Enqueued::Suppressed { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_and_do_not_contact_are_respected() {
    let e = env().await;
    let p = |s: &str| PersonId::new(s).unwrap();
    // A pending message is withdrawn when its person unsubscribes.
    let mut later = msg("pending", "u1", Sms, Marketing, "138");
    later.send_at = Some(t0() + Duration::hours(3));
    let pending = e.outbox.enqueue(later).await.unwrap().id();
    e.outbox.set_preference(&p("u1"), None, Preference::Unsubscribed).await.unwrap();
    e.outbox.set_preference(&p("u2"), Some(Sms), Preference::Unsubscribed).await.unwrap();
    e.outbox.set_preference(&p("u3"), None, Preference::DoNotContact).await.unwrap();
    let out = e
        .outbox
        .enqueue_batch(vec![
            msg("u1-mk", "u1", WeCom, Marketing, "w1"),
            msg("u1-tx", "u1", Sms, Transactional, "138"),
            msg("u2-sms", "u2", Sms, Marketing, "139"),
            msg("u2-push", "u2", AppPush, Marketing, "tok"),
            msg("u3-tx", "u3", Sms, Transactional, "137"),
        ])
        .await
        .unwrap();
    let kinds: Vec<&str> = out
        .iter()
        .map(|o| match o {
            Enqueued::Scheduled { .. } => "ok",
            Enqueued::Suppressed { reason, .. } => reason.as_str(),
            Enqueued::Duplicate { .. } => "dup",
        })
        .collect();
    assert_eq!(kinds, vec!["unsubscribed", "ok", "unsubscribed", "ok", "do_not_contact"]);
    let m = e.outbox.message(pending).await.unwrap();
    assert_eq!((m.status, m.reason.as_str()), (MessageStatus::Suppressed, "unsubscribed"));
    e.clock.advance(Duration::hours(4));
    assert_eq!(e.outbox.drain(10).await.unwrap(), report(2, 2, 0, 0));
    let sent: Vec<String> =
        e.state.received.lock().unwrap().iter().map(|r| r.body["person_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(sent.len(), 2);
    assert!(!sent.contains(&"u3".to_string()));
    // Re-subscribing lets marketing through again.
    e.outbox.clear_preference(&p("u1"), None, Preference::Unsubscribed).await.unwrap();
    assert!(matches!(
        e.outbox.enqueue(msg("u1-again", "u1", Sms, Marketing, "138")).await.unwrap(),
        Enqueued::Scheduled { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_survive_a_restart_and_the_file_channel_writes_lines() {
    let e = env().await;
    e.outbox.enqueue(msg("c1", "p1", Console, Transactional, "console")).await.unwrap();
    e.outbox.enqueue(msg("s1", "p2", Sms, Transactional, "138")).await.unwrap();
    let common::Env { outbox, clock, state, dir } = e;
    drop(outbox);
    // Reopen the same file: both messages are still pending.
    let url = {
        let (url, _) = common::receiver().await;
        url
    };
    let reopened = common::open(&dir, &url, clock).await;
    assert_eq!(reopened.drain(10).await.unwrap(), report(2, 2, 0, 0));
    assert!(state.received.lock().unwrap().is_empty(), "the new receiver got the webhook, not the old one");
    let lines = std::fs::read_to_string(dir.path().join("console.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!((line["person_id"].as_str(), line["channel"].as_str()), (Some("p1"), Some("console")));
    assert_eq!(lines.lines().count(), 1);
}
