//! Campaigns end to end on a simulated shop: a wake-up campaign with a 10%
//! control group goes out through the outbox to a real receiver, outcomes
//! are simulated with a planted effect, and the measured uplift must find it.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Duration;
use cohort_engage::campaign::{
    self, launch, measure::measure, AudienceSource, BoxFuture, CampaignSpec, Contact, Filtered, Offer, OfferIssuer,
    PersonOutcome, PlanTargets, SendTime, CONTROL, TREATMENT,
};
use cohort_engage::channel::{ChannelKind, TemplateSpec, Vars};
use cohort_engage::experiment::Holdout;
use cohort_engage::outbox::{MessageStatus, Preference};
use cohort_engage::Result;
use cohort_model::{Money, PersonId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{env, t0};

/// Records what it was asked to issue.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl OfferIssuer for Recorder {
    fn issue<'a>(&'a self, key: &'a str, person: &'a PersonId, _offer: &'a Offer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.0.lock().unwrap().push((key.to_string(), person.as_str().to_string()));
            Ok(())
        })
    }
}

/// The wake-up spec used here (and by the PostgreSQL case).
pub fn spec_for_tests(id: &str) -> CampaignSpec {
    spec(id)
}

fn spec(id: &str) -> CampaignSpec {
    CampaignSpec {
        id: id.to_string(),
        channel: ChannelKind::Sms,
        template: TemplateSpec {
            name: "wake_up_light".into(),
            subject: String::new(),
            body: "{{name}}，好久不见！送您¥{{coupon_amount}}无门槛券，{{expiry}}前有效。回T退订".into(),
        },
        offer: Offer::Coupon { template: "WAKE10".into(), face_value: Money::from_yuan(10), valid_days: 7 },
        send: SendTime::Now,
        control_bp: 1000,
        message_cost: Money::from_fen(5),
        targets: PlanTargets::WAKE_UP,
    }
}

/// A numbered contact.
pub fn contact_for_tests(i: usize) -> Contact {
    contact(i)
}

fn contact(i: usize) -> Contact {
    let mut vars = Vars::new();
    vars.insert("name".into(), format!("会员{i}"));
    Contact {
        person: PersonId::new(format!("p{i:05}")).unwrap(),
        recipient: format!("1380000{i:04}"),
        vars,
        peak_hour: Some((8 + i % 14) as u8),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_up_campaign_measures_the_planted_uplift() {
    let e = env().await;
    let everyone: Vec<Contact> = (0..12_000).map(contact).collect();
    // The audience: "silent 30–45 days", here every person with an even index.
    let audience =
        Filtered { candidates: &everyone, keep: |c: &Contact| c.person.as_str().ends_with(['0', '2', '4', '6', '8']) };
    assert_eq!(audience.contacts().unwrap().len(), 6_000);
    // One member unsubscribed earlier: assigned, but never messaged nor given a coupon.
    e.outbox.set_preference(&PersonId::new("p00002").unwrap(), None, Preference::Unsubscribed).await.unwrap();
    let holdout = Holdout { salt: "global".into(), share_bp: 500 };
    let issuer = Recorder::default();
    let spec = spec("wake_2024_05");
    let r = launch(&e.outbox, &spec, Some(&holdout), &audience, &issuer).await.unwrap();
    assert_eq!(r.audience, 6_000);
    assert_eq!(r.holdout + r.control + r.treatment, 6_000);
    assert!((r.holdout as f64 / 6_000.0 - 0.05).abs() < 0.01, "{r:?}");
    assert!((r.control as f64 / (r.control + r.treatment) as f64 - 0.10).abs() < 0.015, "{r:?}");
    let unsubscribed_treated = r.suppressed.get("unsubscribed").copied().unwrap_or(0);
    assert_eq!(r.scheduled + unsubscribed_treated, r.treatment);
    assert_eq!(r.offers_issued, r.scheduled);
    assert_eq!(issuer.0.lock().unwrap().len() as u64, r.scheduled);
    assert!(issuer.0.lock().unwrap().iter().all(|(k, p)| k == &format!("campaign:wake_2024_05:{p}")));
    // Relaunching adds nothing and issues nothing.
    let again = launch(&e.outbox, &spec, Some(&holdout), &audience, &issuer).await.unwrap();
    assert_eq!((again.scheduled, again.offers_issued, again.already_launched), (0, 0, 6_000));
    // Deliver everything; the message carries the coupon's amount and expiry (May 1 + 7 days).
    let sent = e.outbox.drain(1_000).await.unwrap();
    assert_eq!(sent.delivered, r.scheduled);
    let bodies = e.state.received.lock().unwrap().clone();
    assert!(bodies[0].body["body"].as_str().unwrap().contains("送您¥10无门槛券，5月8日前有效"), "{:?}", bodies[0].body);

    // Simulated outcomes over 30 days: 4% of silent users come back on
    // their own; the campaign's message lifts that to 10% (+6 points) with
    // ¥10 redeemed per coupon order; an order is worth ¥80–¥160.
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let members = campaign::members(&e.outbox, &spec.id).await.unwrap();
    let mut outcomes = HashMap::new();
    for m in &members {
        let reached = m.arm == TREATMENT && m.outcome == "scheduled";
        let p = if reached { 0.10 } else { 0.04 };
        if rng.random_bool(p) {
            let revenue = Money::from_fen(rng.random_range(8_000..=16_000));
            let discount = if reached { Money::from_yuan(10) } else { Money::ZERO };
            outcomes.insert(m.person_id.clone(), PersonOutcome { converted: true, revenue, discount });
        }
    }
    let report = measure(&e.outbox, &spec, &outcomes).await.unwrap();
    println!(
        "wake-up: treatment {} control {} holdout {}; conversion {:.4} vs {:.4}, uplift {:.4} [{:.4}, {:.4}], \
         chance to win {:.4}; recovered {} [{}, {}], cost {}, ROI {:.2}, revenue/cost {:.2}",
        report.treatment,
        report.control,
        report.holdout,
        report.uplift.treatment,
        report.uplift.control,
        report.uplift.difference,
        report.uplift.ci_low,
        report.uplift.ci_high,
        report.chance_to_win,
        report.recovered_revenue,
        report.recovered_revenue_interval.0,
        report.recovered_revenue_interval.1,
        report.cost.total,
        report.roi.unwrap(),
        report.revenue_to_cost.unwrap(),
    );
    assert_eq!(report.treatment, r.treatment);
    assert_eq!(report.control, r.control);
    assert_eq!((report.delivered, report.reached), (r.scheduled, r.scheduled));
    assert!(!report.srm.mismatch, "{:?}", report.srm);
    // The planted +6 points must be inside the interval, and zero outside.
    assert!(report.uplift.ci_low < 0.06 && 0.06 < report.uplift.ci_high, "{:?}", report.uplift);
    assert!(report.uplift.ci_low > 0.0, "{:?}", report.uplift);
    assert!(report.chance_to_win > 0.999);
    // Cost: ¥0.05 per delivered one-segment SMS plus ¥10 per redeemed coupon.
    let coupon_orders = outcomes.iter().filter(|(_, o)| o.discount > Money::ZERO).count() as i64;
    assert_eq!(report.cost.messages, Money::from_fen(5 * r.scheduled as i64));
    assert_eq!(report.cost.coupons, Money::from_yuan(10 * coupon_orders));
    // Expected recovered revenue ≈ 0.06 × ¥120 × 5 130 ≈ ¥37 000 against
    // ≈ ¥5 400 of cost: the plan's 3× and 8% targets are both met.
    assert!(report.conversion_target_met && report.revenue_target_met, "{report:#?}");
    let (lo, hi) = report.recovered_revenue_interval;
    assert!(lo < report.recovered_revenue && report.recovered_revenue < hi);
    assert!(report.roi.unwrap() > 2.0, "{report:#?}");
    // The statuses of the unsubscribed member's message say why it was not sent.
    let m = members.iter().find(|m| m.person_id == "p00002").unwrap();
    if m.arm == TREATMENT {
        let msg = e.outbox.message(m.message_id.unwrap()).await.unwrap();
        assert_eq!((msg.status, msg.reason.as_str()), (MessageStatus::Suppressed, "unsubscribed"));
        assert!(!m.offer_issued);
    } else {
        assert!(m.arm == CONTROL || m.arm == "holdout");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_hour_sending_and_validation() {
    let e = env().await;
    let people: Vec<Contact> = (0..40).map(contact).collect();
    let mut s = spec("peak");
    s.send = SendTime::PeakHour { not_before: t0() };
    s.offer = Offer::None;
    s.template.body = "{{name}}，新品上架，来看看吧".into();
    let r = launch(&e.outbox, &s, None, &people, &campaign::NoIssuer).await.unwrap();
    assert_eq!(r.offers_issued, 0);
    for m in campaign::members(&e.outbox, "peak").await.unwrap().iter().filter(|m| m.arm == TREATMENT) {
        let msg = e.outbox.message(m.message_id.unwrap()).await.unwrap();
        let i: usize = m.person_id[1..].parse().unwrap();
        let peak = 8 + i % 14; // shop hour 8..21
        let local = msg.due_at.with_timezone(&chrono_tz::Asia::Shanghai);
        use chrono::Timelike;
        if peak == 10 {
            assert_eq!(msg.due_at, t0());
        } else {
            assert_eq!(local.hour() as usize, peak, "{}", m.person_id);
            assert!(msg.due_at > t0() && msg.due_at <= t0() + Duration::hours(24));
        }
    }
    let mut bad = spec("bad");
    bad.control_bp = 0;
    let err = launch(&e.outbox, &bad, None, &people, &campaign::NoIssuer).await.unwrap_err().to_string();
    assert!(err.contains("control share"), "{err}");
    let mut bad = spec("bad2");
    bad.template.body = "{{nickname}} 你好".into();
    let err = launch(&e.outbox, &bad, None, &people, &campaign::NoIssuer).await.unwrap_err().to_string();
    assert!(err.contains("nickname"), "{err}");
}

/// Refuses the offer for people whose id ends in 7 (a budget running out).
struct Flaky;

impl OfferIssuer for Flaky {
    fn issue<'a>(&'a self, _: &'a str, person: &'a PersonId, _: &'a Offer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if person.as_str().ends_with('7') {
                Err(cohort_engage::EngageError::OfferNotIssued {
                    person: person.as_str().into(),
                    reason: "coupon budget exhausted".into(),
                })
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_offer_failed_is_withdrawn() {
    let e = env().await;
    let people: Vec<Contact> = (0..100).map(contact).collect();
    let r = launch(&e.outbox, &spec("flaky"), None, &people, &Flaky).await.unwrap();
    let failed = r.suppressed.get("offer_not_issued").copied().unwrap_or(0);
    assert!(failed > 0, "{r:?}");
    assert_eq!(r.offers_issued + failed, r.treatment);
    assert_eq!(r.scheduled, r.offers_issued);
    let members = campaign::members(&e.outbox, "flaky").await.unwrap();
    for m in members.iter().filter(|m| m.arm == TREATMENT && m.person_id.ends_with('7')) {
        assert_eq!(m.outcome, "suppressed:offer_not_issued");
        let msg = e.outbox.message(m.message_id.unwrap()).await.unwrap();
        assert_eq!((msg.status, msg.reason.as_str()), (MessageStatus::Suppressed, "offer_not_issued"));
    }
    assert_eq!(e.outbox.drain(100).await.unwrap().delivered, r.offers_issued);
}
