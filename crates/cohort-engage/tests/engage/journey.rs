//! Journeys driven by scripted event streams with a manual clock: cart
//! abandonment (goal exits), post-first-order care (event waits), a
//! segment-entered wake-up with a branch and re-entry rules, and a restart
//! in the middle of a wait.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use cohort_engage::campaign::{BoxFuture, Contact, Offer, OfferIssuer};
use cohort_engage::channel::{ChannelKind, MessageClass, TemplateSpec, Vars};
use cohort_engage::journey::{
    Action, Directory, JourneyEngine, JourneyEvent, JourneySpec, ReEntry, RunStatus, Step, Trigger,
};
use cohort_engage::Result;
use cohort_model::{Money, PersonId};
use serde_json::json;

use crate::common::{env, t0};

#[derive(Default)]
struct Issued(Mutex<Vec<String>>);

impl OfferIssuer for Issued {
    fn issue<'a>(&'a self, key: &'a str, _: &'a PersonId, _: &'a Offer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.0.lock().unwrap().push(key.to_string());
            Ok(())
        })
    }
}

fn directory() -> Arc<dyn Directory> {
    Arc::new(|person: &PersonId, channel: ChannelKind| {
        let mut vars = Vars::new();
        vars.insert("name".into(), format!("会员{}", person.as_str()));
        Some(Contact {
            person: person.clone(),
            recipient: format!("{channel}:{}", person.as_str()),
            vars,
            peak_hour: None,
        })
    })
}

fn send(id: &str, class: MessageClass, body: &str) -> Step {
    Step {
        id: id.into(),
        action: Action::Send {
            channel: ChannelKind::Sms,
            class,
            template: TemplateSpec { name: id.into(), subject: String::new(), body: body.into() },
            offer: Offer::None,
        },
    }
}

fn wait(id: &str, minutes: i64) -> Step {
    Step { id: id.into(), action: Action::Wait { minutes } }
}

fn wait_for(id: &str, event: &str, minutes: i64, on_timeout: Option<&str>) -> Step {
    Step {
        id: id.into(),
        action: Action::WaitForEvent {
            event: event.into(),
            timeout_minutes: minutes,
            on_timeout: on_timeout.map(str::to_string),
        },
    }
}

fn cart_abandonment() -> JourneySpec {
    JourneySpec {
        id: "cart_abandon".into(),
        trigger: Trigger::Event { event: "Product Added".into(), when: Default::default() },
        re_entry: ReEntry::AfterExit,
        goal: Some("Order Completed".into()),
        exit_on: vec![],
        steps: vec![
            wait("hold", 240),
            send("remind", MessageClass::Marketing, "{{name}}，您购物车里的{{product}}还在等您，库存有限哦"),
        ],
    }
}

fn post_first_order() -> JourneySpec {
    let mut coupon =
        send("coupon", MessageClass::Marketing, "送您¥{{coupon_amount}}品类券，满200可用，{{expiry}}前有效");
    if let Action::Send { offer, .. } = &mut coupon.action {
        *offer = Offer::Coupon { template: "CAT-200-30".into(), face_value: Money::from_yuan(30), valid_days: 7 };
    }
    JourneySpec {
        id: "post_first_order".into(),
        trigger: Trigger::Event {
            event: "Order Completed".into(),
            when: [("first_order".to_string(), json!(true))].into(),
        },
        re_entry: ReEntry::Never,
        goal: Some("Order Completed".into()),
        exit_on: vec!["Order Refunded".into()],
        steps: vec![
            send("confirm", MessageClass::Transactional, "{{name}}，订单{{order_id}}已确认，我们会尽快发货"),
            wait_for("wait_ship", "Order Shipped", 3 * 1440, None),
            send("shipped", MessageClass::Transactional, "订单{{order_id}}已发货"),
            wait_for("wait_out", "Out For Delivery", 5 * 1440, Some("wait_delivered")),
            send("tomorrow", MessageClass::Transactional, "您的包裹明天送达"),
            wait_for("wait_delivered", "Order Delivered", 7 * 1440, None),
            send("guide", MessageClass::Transactional, "{{product}}使用指南：首次使用前请……"),
            wait("pause", 3 * 1440),
            coupon,
            wait("window", 7 * 1440),
        ],
    }
}

fn ev(person: &str, name: &str, props: serde_json::Value) -> JourneyEvent {
    let e = JourneyEvent {
        person: PersonId::new(person).unwrap(),
        name: name.into(),
        at: t0(),
        properties: props.as_object().cloned().unwrap_or_default(),
    };
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_abandonment_reminds_only_those_who_did_not_order() {
    let e = env().await;
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![cart_abandonment()], directory(), Arc::new(Issued::default()))
            .unwrap();
    let entered = engine.on_event(&ev("p1", "Product Added", json!({"product": "燕麦拿铁"}))).await.unwrap();
    assert_eq!(entered.len(), 1);
    engine.on_event(&ev("p2", "product_added", json!({"product": "挂耳咖啡"}))).await.unwrap();
    // A second add while in the journey does not start a second run.
    assert!(engine.on_event(&ev("p1", "Product Added", json!({"product": "燕麦拿铁"}))).await.unwrap().is_empty());
    e.clock.advance(Duration::hours(1));
    engine.on_event(&ev("p2", "Order Completed", json!({}))).await.unwrap();
    e.clock.advance(Duration::minutes(179));
    assert_eq!(engine.tick().await.unwrap().woken, 0);
    e.clock.advance(Duration::minutes(1));
    let t = engine.tick().await.unwrap();
    assert_eq!((t.woken, t.sent), (1, 1));
    let msgs = e.outbox.messages_of("cart_abandon").await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].person_id, "p1");
    assert_eq!(msgs[0].body, "会员p1，您购物车里的燕麦拿铁还在等您，库存有限哦");
    let p1 = engine.runs_of(&PersonId::new("p1").unwrap()).await.unwrap();
    assert_eq!((p1.len(), p1[0].status, p1[0].end_reason.as_str()), (1, RunStatus::Completed, "end"));
    let p2 = engine.runs_of(&PersonId::new("p2").unwrap()).await.unwrap();
    assert_eq!((p2[0].status, p2[0].end_reason.as_str()), (RunStatus::Converted, "goal:Order Completed"));
    // After the run ended, a new add re-enters (AfterExit).
    assert_eq!(engine.on_event(&ev("p1", "Product Added", json!({"product": "冷萃"}))).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_first_order_care_follows_the_order_and_ends_on_the_second_order() {
    let e = env().await;
    let issued = Arc::new(Issued::default());
    let engine = JourneyEngine::new(e.outbox.clone(), vec![post_first_order()], directory(), issued.clone()).unwrap();
    let props = json!({"first_order": true, "order_id": "A1001", "product": "手冲壶"});
    // Not a first order: no entry.
    assert!(engine.on_event(&ev("q1", "Order Completed", json!({"first_order": false}))).await.unwrap().is_empty());
    let run = engine.on_event(&ev("c1", "Order Completed", props)).await.unwrap()[0];
    let step = |d: i64, name: &str| (d, name.to_string());
    let mut script = vec![step(1, "Order Shipped"), step(2, "Out For Delivery"), step(3, "Order Delivered")];
    for (day, name) in script.drain(..) {
        e.clock.set(t0() + Duration::days(day));
        engine.on_event(&ev("c1", &name, json!({}))).await.unwrap();
    }
    e.clock.set(t0() + Duration::days(6) - Duration::minutes(1));
    assert_eq!(engine.tick().await.unwrap().sent, 0);
    e.clock.set(t0() + Duration::days(6));
    assert_eq!(engine.tick().await.unwrap().sent, 1);
    let msgs = e.outbox.messages_of("post_first_order").await.unwrap();
    let got: Vec<(i64, &str)> = msgs.iter().map(|m| ((m.requested_at - t0()).num_days(), m.body.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (0, "会员c1，订单A1001已确认，我们会尽快发货"),
            (1, "订单A1001已发货"),
            (2, "您的包裹明天送达"),
            (3, "手冲壶使用指南：首次使用前请……"),
            (6, "送您¥30品类券，满200可用，5月14日前有效"),
        ]
    );
    assert_eq!(msgs[4].class, MessageClass::Marketing);
    assert_eq!(*issued.0.lock().unwrap(), vec![format!("journey:post_first_order:{run}:coupon")]);
    // The second order is the goal.
    e.clock.set(t0() + Duration::days(8));
    engine.on_event(&ev("c1", "Order Completed", json!({"first_order": false}))).await.unwrap();
    let r = engine.run(run).await.unwrap();
    assert_eq!((r.status, r.ended_at), (RunStatus::Converted, Some(t0() + Duration::days(8))));
    // A run whose parcel never ships times out after 3 days.
    e.clock.set(t0() + Duration::days(10));
    let late = engine
        .on_event(&ev("c2", "Order Completed", json!({"first_order": true, "order_id": "A2", "product": "x"})))
        .await
        .unwrap()[0];
    e.clock.advance(Duration::days(3));
    engine.tick().await.unwrap();
    let r = engine.run(late).await.unwrap();
    assert_eq!((r.status, r.end_reason.as_str()), (RunStatus::Exited, "timeout:Order Shipped"));
}

fn wake_up() -> JourneySpec {
    let mut first = send("offer", MessageClass::Marketing, "{{name}}，好久不见，送您¥{{coupon_amount}}券");
    if let Action::Send { offer, .. } = &mut first.action {
        *offer = Offer::Coupon { template: "WAKE10".into(), face_value: Money::from_yuan(10), valid_days: 7 };
    }
    JourneySpec {
        id: "wake_up_light".into(),
        trigger: Trigger::Manual,
        re_entry: ReEntry::Cooldown { days: 30 },
        goal: Some("Order Completed".into()),
        exit_on: vec![],
        steps: vec![
            first,
            wait("look", 3 * 1440),
            Step {
                id: "viewed?".into(),
                action: Action::Branch {
                    event: "Product Viewed".into(),
                    then: "nudge".into(),
                    otherwise: Some("last".into()),
                },
            },
            send("nudge", MessageClass::Marketing, "您看中的商品还有券可用"),
            Step { id: "done".into(), action: Action::Exit },
            send("last", MessageClass::Marketing, "最后一天：¥10券即将过期"),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_entered_wake_up_branches_and_respects_re_entry() {
    let e = env().await;
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![wake_up()], directory(), Arc::new(Issued::default())).unwrap();
    let p = |s: &str| PersonId::new(s).unwrap();
    let a = engine.enter("wake_up_light", &p("s1"), Vars::new()).await.unwrap().unwrap();
    let b = engine.enter("wake_up_light", &p("s2"), Vars::new()).await.unwrap().unwrap();
    assert!(engine.enter("wake_up_light", &p("s1"), Vars::new()).await.unwrap().is_none(), "already active");
    e.clock.advance(Duration::days(1));
    engine.on_event(&ev("s1", "Product Viewed", json!({}))).await.unwrap();
    e.clock.advance(Duration::days(2));
    assert_eq!(engine.tick().await.unwrap().sent, 2);
    let bodies: Vec<(String, String)> =
        e.outbox.messages_of("wake_up_light").await.unwrap().into_iter().map(|m| (m.person_id, m.body)).collect();
    assert_eq!(bodies[2], ("s1".to_string(), "您看中的商品还有券可用".to_string()));
    assert_eq!(bodies[3], ("s2".to_string(), "最后一天：¥10券即将过期".to_string()));
    assert_eq!(engine.run(a).await.unwrap().end_reason, "exit_step");
    assert_eq!(engine.run(b).await.unwrap().end_reason, "end");
    // Cooldown: 30 days after the first entry, not before.
    e.clock.set(t0() + Duration::days(29));
    assert!(engine.enter("wake_up_light", &p("s1"), Vars::new()).await.unwrap().is_none());
    e.clock.set(t0() + Duration::days(30));
    assert!(engine.enter("wake_up_light", &p("s1"), Vars::new()).await.unwrap().is_some());
    assert!(engine.enter("nope", &p("s1"), Vars::new()).await.unwrap_err().to_string().contains("nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_wait_resumes_it() {
    let e = env().await;
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![cart_abandonment()], directory(), Arc::new(Issued::default()))
            .unwrap();
    engine.on_event(&ev("r1", "Product Added", json!({"product": "滤纸"}))).await.unwrap();
    e.clock.advance(Duration::hours(2));
    let crate::common::Env { outbox, clock, dir, .. } = e;
    drop(engine);
    drop(outbox);
    // A new process: same store, new engine.
    let (url, _) = crate::common::receiver().await;
    let outbox = crate::common::open(&dir, &url, clock.clone()).await;
    let engine =
        JourneyEngine::new(outbox.clone(), vec![cart_abandonment()], directory(), Arc::new(Issued::default())).unwrap();
    assert_eq!(engine.tick().await.unwrap().woken, 0, "still two hours to wait");
    clock.advance(Duration::hours(2));
    assert_eq!(engine.tick().await.unwrap().sent, 1);
    let msgs = outbox.messages_of("cart_abandon").await.unwrap();
    assert_eq!(msgs[0].dedupe_key, "journey:cart_abandon:1:remind");
    // Ticking again (a replay after a crash) sends nothing more.
    assert_eq!(engine.tick().await.unwrap(), Default::default());
    assert_eq!(outbox.drain(10).await.unwrap().delivered, 1);
}

#[test]
fn invalid_journeys_report_every_problem() {
    let mut j = cart_abandonment();
    j.steps.push(wait("hold", 0));
    j.steps.push(Step {
        id: "b".into(),
        action: Action::Branch { event: "x".into(), then: "nowhere".into(), otherwise: None },
    });
    j.steps.push(send("bad", MessageClass::Marketing, "{{unclosed"));
    let err = j.validate().unwrap_err().to_string();
    for part in ["\"hold\" is used twice", "wait must be positive", "unknown target step \"nowhere\"", "unclosed"] {
        assert!(err.contains(part), "{part} missing in {err}");
    }
}
