//! The plan's playbooks as shipped journeys: all valid, and the ones not
//! covered in `journey.rs` driven through their paths.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use cohort_engage::campaign::{Contact, NoIssuer};
use cohort_engage::channel::{ChannelKind, Vars};
use cohort_engage::journey::{playbooks, JourneyEngine, JourneyEvent, RunStatus};
use cohort_model::PersonId;

use crate::common::{env, t0};

fn directory() -> Arc<dyn cohort_engage::journey::Directory> {
    Arc::new(|person: &PersonId, _: ChannelKind| {
        let mut vars = Vars::new();
        vars.insert("name".into(), format!("会员{}", person.as_str()));
        Some(Contact { person: person.clone(), recipient: person.as_str().into(), vars, peak_hour: None })
    })
}

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn every_playbook_is_valid_and_named_once() {
    let all = playbooks::all();
    assert_eq!(all.len(), 12);
    let ids: HashSet<&str> = all.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids.len(), all.len());
    for j in &all {
        j.validate().unwrap_or_else(|e| panic!("{}: {e}", j.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_user_plan_reminds_on_days_1_3_7_until_the_first_order() {
    let e = env().await;
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![playbooks::new_user_plan()], directory(), Arc::new(NoIssuer))
            .unwrap();
    for p in ["n1", "n2"] {
        let ev = JourneyEvent {
            person: PersonId::new(p).unwrap(),
            name: "Signed Up".into(),
            at: t0(),
            properties: Default::default(),
        };
        engine.on_event(&ev).await.unwrap();
    }
    for day in 1..=7 {
        e.clock.set(t0() + Duration::days(day));
        if day == 5 {
            let ev = JourneyEvent {
                person: PersonId::new("n1").unwrap(),
                name: "Order Completed".into(),
                at: t0() + Duration::days(5),
                properties: Default::default(),
            };
            engine.on_event(&ev).await.unwrap();
        }
        engine.tick().await.unwrap();
    }
    let msgs = e.outbox.messages_of("new_user_plan").await.unwrap();
    let of = |p: &str| -> Vec<(i64, String)> {
        msgs.iter()
            .filter(|m| m.person_id == p)
            .map(|m| ((m.requested_at - t0()).num_hours(), m.body.clone()))
            .collect()
    };
    assert_eq!(
        of("n2"),
        vec![
            (0, "欢迎会员n2！新人券¥20已到账，7天内有效".to_string()),
            (24, "新人专区：首单包邮".to_string()),
            (72, "会员n2，新人券还剩4天".to_string()),
            // Due at 166 h (day 7, 08:00); this test ticks once a day.
            (168, "会员n2，新人券今晚到期".to_string()),
        ]
    );
    assert_eq!(of("n1").len(), 3, "n1 ordered on day 5: no day-7 reminder");
    let runs = engine.runs_of(&PersonId::new("n1").unwrap()).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Converted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_value_silent_members_go_to_the_service_call_list() {
    let e = env().await;
    let journeys = vec![playbooks::wake_up_high_value(), playbooks::replenishment(), playbooks::recall(false)];
    let engine = JourneyEngine::new(e.outbox.clone(), journeys, directory(), Arc::new(NoIssuer)).unwrap();
    let h1 = PersonId::new("h1").unwrap();
    engine.enter("wake_up_high_value", &h1, vars(&[("silent_days", "75"), ("lifetime_value", "8600")])).await.unwrap();
    let tasks = engine.tasks("service_calls").await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].note, "会员h1：高价值沉默会员，已75天未购买，累计消费¥8600，请电话回访");
    assert_eq!((tasks[0].person_id.as_str(), tasks[0].created_at), ("h1", t0()));
    let msg = &e.outbox.messages_of("wake_up_high_value").await.unwrap()[0];
    assert_eq!(
        (msg.channel, msg.body.as_str()),
        (ChannelKind::WeCom, "会员h1您好，我是您的专属顾问，为您预留了¥80回归礼券")
    );
    // Replenishment with the predicted run-out date; recall of an ordinary member: no call.
    let r1 = PersonId::new("r1").unwrap();
    engine.enter("replenishment", &r1, vars(&[("product", "猫砂"), ("run_out_date", "5月6日")])).await.unwrap();
    assert_eq!(
        e.outbox.messages_of("replenishment").await.unwrap()[0].body,
        "会员r1，您的猫砂预计5月6日用完，现在下单次日达"
    );
    engine.enter("recall", &PersonId::new("c9").unwrap(), Vars::new()).await.unwrap();
    assert_eq!(engine.tasks("service_calls").await.unwrap().len(), 1);
    assert!(e.outbox.messages_of("recall").await.unwrap()[0].body.starts_with("会员c9，送您¥15回归券"));
}
