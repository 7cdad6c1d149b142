//! The same outbox, campaign and journey paths on PostgreSQL, when
//! `COHORT_TEST_POSTGRES_URL` names a server (an admin connection string;
//! the test creates its own database). Without it the test prints a notice
//! and passes. Run `crates/cohort-engage/scripts/postgres-tests.sh` for a
//! throwaway server.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use cohort_engage::campaign::{self, launch, measure::measure, NoIssuer, PersonOutcome};
use cohort_engage::channel::ChannelKind::{AppPush, Sms};
use cohort_engage::channel::MessageClass::{Marketing, Transactional};
use cohort_engage::channel::{ChannelKind, Sink, WebhookConfig};
use cohort_engage::clock::ManualClock;
use cohort_engage::experiment::{sticky, Experiment};
use cohort_engage::journey::{playbooks, JourneyEngine, RunStatus};
use cohort_engage::outbox::{Enqueued, MessageStatus, Outbox, OutboxOptions, Preference};
use cohort_model::{PersonId, ShopTime};
use sqlx::{AnyConnection, Connection};

use crate::common::{msg, receiver, t0, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_campaign_and_journey_on_postgres() {
    let Ok(admin) = std::env::var("COHORT_TEST_POSTGRES_URL") else {
        eprintln!("COHORT_TEST_POSTGRES_URL not set: PostgreSQL case skipped");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("engage_{}", std::process::id());
    let mut conn = AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b));

    let (hook, state) = receiver().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let mut options = OutboxOptions::default();
    let config = WebhookConfig { max_attempts: 2, backoff_base_s: 30, ..WebhookConfig::new(hook, SECRET) };
    for kind in ChannelKind::ALL {
        options.sinks.insert(kind, Sink::Webhook(config.clone()));
    }
    let outbox = Outbox::open(&url, ShopTime::default(), clock.clone(), options).await.unwrap();

    // Caps, quiet hours, preferences, dedupe.
    let out = outbox
        .enqueue_batch(vec![
            msg("a", "p1", Sms, Marketing, "138"),
            msg("b", "p1", AppPush, Marketing, "tok"),
            msg("c", "p1", Sms, Transactional, "138"),
            msg("d", "p2", Sms, Marketing, "down:139"),
        ])
        .await
        .unwrap();
    assert!(matches!(out[1], Enqueued::Suppressed { ref reason, .. } if reason == "frequency_cap_day"));
    assert_eq!(
        outbox.enqueue(msg("a", "p1", Sms, Marketing, "138")).await.unwrap(),
        Enqueued::Duplicate { id: out[0].id() }
    );
    outbox.set_preference(&PersonId::new("p3").unwrap(), None, Preference::DoNotContact).await.unwrap();
    assert!(matches!(
        outbox.enqueue(msg("e", "p3", Sms, Transactional, "1")).await.unwrap(),
        Enqueued::Suppressed { .. }
    ));
    // Deliver, retry, dead-letter.
    let r = outbox.dispatch_due(10).await.unwrap();
    assert_eq!((r.claimed, r.delivered, r.retried), (3, 2, 1));
    clock.advance(Duration::seconds(30));
    let r = outbox.dispatch_due(10).await.unwrap();
    assert_eq!((r.claimed, r.dead), (1, 1));
    let m = outbox.message(out[3].id()).await.unwrap();
    assert_eq!((m.status, m.attempts, m.last_http_status), (MessageStatus::Dead, 2, Some(500)));
    assert_eq!(outbox.attempts(out[3].id()).await.unwrap().len(), 2);
    assert!(state.received.lock().unwrap().iter().all(|r| r.signature_ok));

    // Sticky assignment and a campaign with measurement.
    let exp = Experiment::new("pg_exp", &[("control", 1), ("treatment", 1)]).unwrap();
    let first = sticky::assign(outbox.pool(), &exp, None, &["u1", "u2"], t0()).await.unwrap();
    let again = sticky::assign(outbox.pool(), &exp, None, &["u1", "u2"], t0()).await.unwrap();
    assert_eq!(first, again);
    let spec = crate::campaign::spec_for_tests("pg_wake");
    clock.advance(Duration::days(2));
    let people: Vec<campaign::Contact> = (0..50).map(crate::campaign::contact_for_tests).collect();
    let report = launch(&outbox, &spec, None, &people, &NoIssuer).await.unwrap();
    assert_eq!(report.treatment + report.control, 50);
    let outcomes: HashMap<String, PersonOutcome> = HashMap::new();
    let effect = measure(&outbox, &spec, &outcomes).await.unwrap();
    assert_eq!(effect.treatment, report.treatment);

    // A journey with a wait, resumed by a tick.
    let directory = Arc::new(|p: &PersonId, _: ChannelKind| {
        Some(campaign::Contact {
            person: p.clone(),
            recipient: "138".into(),
            vars: Default::default(),
            peak_hour: None,
        })
    });
    let engine =
        JourneyEngine::new(outbox.clone(), vec![playbooks::replenishment()], directory, Arc::new(NoIssuer)).unwrap();
    let vars = [("name", "王"), ("product", "猫砂"), ("run_out_date", "5月9日")];
    let run = engine
        .enter(
            "replenishment",
            &PersonId::new("r1").unwrap(),
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        )
        .await
        .unwrap()
        .unwrap();
    clock.advance(Duration::days(8));
    engine.tick().await.unwrap();
    let r = engine.run(run).await.unwrap();
    assert_eq!((r.status, r.end_reason.as_str()), (RunStatus::Exited, "timeout:Order Completed"));
    drop(outbox);
}
