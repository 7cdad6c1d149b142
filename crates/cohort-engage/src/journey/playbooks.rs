//! The growth and retention playbooks of the business plan as ready-made
//! journeys. Event-triggered ones start from the collector's events;
//! segment- and prediction-driven ones (`Trigger::Manual`) are entered by a
//! daily job with the context the templates use (product, run-out date,
//! silent days, lifetime value). Shops copy and adjust them in config.

use cohort_model::Money;

use super::{Action, JourneySpec, ReEntry, Step, Trigger};
use crate::campaign::Offer;
use crate::channel::{ChannelKind, MessageClass, TemplateSpec};

const DAY: i64 = 1440;

fn send(id: &str, channel: ChannelKind, class: MessageClass, body: &str, offer: Offer) -> Step {
    let template = TemplateSpec { name: id.into(), subject: String::new(), body: body.into() };
    Step { id: id.into(), action: Action::Send { channel, class, template, offer } }
}

fn marketing(id: &str, body: &str, offer: Offer) -> Step {
    send(id, ChannelKind::Sms, MessageClass::Marketing, body, offer)
}

fn service(id: &str, channel: ChannelKind, body: &str) -> Step {
    send(id, channel, MessageClass::Transactional, body, Offer::None)
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

fn coupon(template: &str, yuan: i64, valid_days: u32) -> Offer {
    Offer::Coupon { template: template.into(), face_value: Money::from_yuan(yuan), valid_days }
}

fn on_event(event: &str) -> Trigger {
    Trigger::Event { event: event.into(), when: Default::default() }
}

const ORDER: &str = "Order Completed";

/// Post-first-order care: confirmation at once, shipping notice, "arriving
/// tomorrow", first-use guide after delivery, then a category coupon
/// (¥30 off ¥200, 7 days) three days later to drive the second order.
pub fn post_first_order() -> JourneySpec {
    JourneySpec {
        id: "post_first_order".into(),
        trigger: Trigger::Event { event: ORDER.into(), when: [("first_order".to_string(), true.into())].into() },
        re_entry: ReEntry::Never,
        goal: Some(ORDER.into()),
        exit_on: vec!["Order Refunded".into()],
        steps: vec![
            service("confirm", ChannelKind::Sms, "{{name}}，订单{{order_id}}已确认，我们会尽快发货"),
            wait_for("wait_ship", "Order Shipped", 3 * DAY, None),
            service("shipped", ChannelKind::Sms, "订单{{order_id}}已发货"),
            wait_for("wait_out", "Out For Delivery", 5 * DAY, Some("wait_delivered")),
            service("tomorrow", ChannelKind::AppPush, "您的包裹明天送达"),
            wait_for("wait_delivered", "Order Delivered", 7 * DAY, None),
            service("guide", ChannelKind::AppPush, "{{product}}使用指南"),
            wait("pause", 3 * DAY),
            marketing(
                "coupon",
                "送您¥{{coupon_amount}}品类券，满200可用，{{expiry}}前有效",
                coupon("CAT-200-30", 30, 7),
            ),
            wait("window", 7 * DAY),
        ],
    }
}

/// Cart abandonment: added to cart and no order within `hours`.
pub fn cart_abandonment(hours: i64) -> JourneySpec {
    JourneySpec {
        id: "cart_abandonment".into(),
        trigger: on_event("Product Added"),
        re_entry: ReEntry::Cooldown { days: 3 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            wait("hold", hours * 60),
            marketing("remind", "{{name}}，您购物车里的{{product}}还在等您，库存有限哦", Offer::None),
            wait_for("window", ORDER, 2 * DAY, None),
        ],
    }
}

/// Price drop on a carted or wished item: the catalogue emits
/// `Price Dropped` (product, old_price, new_price) for each person who has
/// it in cart or wishlist.
pub fn price_drop() -> JourneySpec {
    JourneySpec {
        id: "price_drop".into(),
        trigger: on_event("Price Dropped"),
        re_entry: ReEntry::Cooldown { days: 7 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            marketing("alert", "{{name}}，您关注的{{product}}降价了：¥{{old_price}} → ¥{{new_price}}", Offer::None),
            wait_for("window", ORDER, 3 * DAY, None),
        ],
    }
}

/// Replenishment: entered by the replenishment job a few days before the
/// predicted run-out date (context: product, run_out_date).
pub fn replenishment() -> JourneySpec {
    JourneySpec {
        id: "replenishment".into(),
        trigger: Trigger::Manual,
        re_entry: ReEntry::Cooldown { days: 20 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            marketing("remind", "{{name}}，您的{{product}}预计{{run_out_date}}用完，现在下单次日达", Offer::None),
            wait_for("window", ORDER, 7 * DAY, None),
        ],
    }
}

/// Birthday coupon, entered by a daily job 3 days before the birthday.
pub fn birthday() -> JourneySpec {
    JourneySpec {
        id: "birthday".into(),
        trigger: Trigger::Manual,
        re_entry: ReEntry::Cooldown { days: 300 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            marketing(
                "gift",
                "{{name}}，生日快乐！¥{{coupon_amount}}生日券已到账，{{expiry}}前有效",
                coupon("BIRTHDAY-20", 20, 10),
            ),
            wait_for("window", ORDER, 10 * DAY, None),
        ],
    }
}

/// Silence tiers of the wake-up playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilentTier {
    /// 30–45 days: a small coupon.
    Light,
    /// 46–60 days: a category coupon.
    Medium,
    /// 61+ days: a larger offer.
    Heavy,
}

/// Silent-user wake-up by tier, entered by the lifecycle segment job; a
/// last reminder if nothing was ordered within 5 days.
pub fn wake_up(tier: SilentTier) -> JourneySpec {
    let (id, offer, body) = match tier {
        SilentTier::Light => {
            ("wake_up_light", coupon("WAKE-10", 10, 7), "{{name}}，好久不见！送您¥{{coupon_amount}}无门槛券")
        }
        SilentTier::Medium => (
            "wake_up_medium",
            coupon("WAKE-CAT-20", 20, 7),
            "{{name}}，您常买的品类上新了，送您¥{{coupon_amount}}品类券",
        ),
        SilentTier::Heavy => {
            ("wake_up_heavy", coupon("WAKE-50", 50, 10), "{{name}}，专属回归礼：¥{{coupon_amount}}券，{{expiry}}前有效")
        }
    };
    JourneySpec {
        id: id.into(),
        trigger: Trigger::Manual,
        re_entry: ReEntry::Cooldown { days: 30 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            marketing("offer", body, offer),
            wait_for("window", ORDER, 5 * DAY, Some("last")),
            marketing("last", "{{name}}，您的券即将过期", Offer::None),
        ],
    }
}

/// High-value silent members go to a service call list first (context:
/// silent_days, lifetime_value), then get a personal WeCom message.
pub fn wake_up_high_value() -> JourneySpec {
    JourneySpec {
        id: "wake_up_high_value".into(),
        trigger: Trigger::Manual,
        re_entry: ReEntry::Cooldown { days: 30 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            Step {
                id: "call".into(),
                action: Action::Task {
                    list: "service_calls".into(),
                    note:
                        "{{name}}：高价值沉默会员，已{{silent_days}}天未购买，累计消费¥{{lifetime_value}}，请电话回访"
                            .into(),
                },
            },
            send(
                "wecom",
                ChannelKind::WeCom,
                MessageClass::Marketing,
                "{{name}}您好，我是您的专属顾问，为您预留了¥{{coupon_amount}}回归礼券",
                coupon("VIP-BACK-80", 80, 14),
            ),
            wait_for("window", ORDER, 14 * DAY, None),
        ],
    }
}

/// Churned / high-risk recall (entered from the churn prediction),
/// differentiated by value: a larger offer and a call for high-value
/// members, a modest coupon for others.
pub fn recall(high_value: bool) -> JourneySpec {
    let mut steps = Vec::new();
    if high_value {
        steps.push(Step {
            id: "call".into(),
            action: Action::Task {
                list: "service_calls".into(),
                note: "{{name}}：高价值流失风险（{{churn_risk}}），请回访".into(),
            },
        });
    }
    let (offer, body) = if high_value {
        (coupon("RECALL-VIP-60", 60, 14), "{{name}}，我们想念您：¥{{coupon_amount}}专属券，{{expiry}}前有效")
    } else {
        (coupon("RECALL-15", 15, 7), "{{name}}，送您¥{{coupon_amount}}回归券，{{expiry}}前有效")
    };
    steps.push(marketing("offer", body, offer));
    steps.push(wait_for("window", ORDER, 14 * DAY, None));
    JourneySpec {
        id: if high_value { "recall_high_value".into() } else { "recall".into() },
        trigger: Trigger::Manual,
        re_entry: ReEntry::Cooldown { days: 60 },
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps,
    }
}

/// New-user 7-day plan: welcome with the new-user coupon, then reminders on
/// days 1, 3 and 7 until the first order.
pub fn new_user_plan() -> JourneySpec {
    JourneySpec {
        id: "new_user_plan".into(),
        trigger: on_event("Signed Up"),
        re_entry: ReEntry::Never,
        goal: Some(ORDER.into()),
        exit_on: vec![],
        steps: vec![
            send(
                "welcome",
                ChannelKind::AppPush,
                MessageClass::Marketing,
                "欢迎{{name}}！新人券¥{{coupon_amount}}已到账，7天内有效",
                coupon("NEW-20", 20, 7),
            ),
            wait("d1", DAY),
            send("day1", ChannelKind::AppPush, MessageClass::Marketing, "新人专区：首单包邮", Offer::None),
            wait("d3", 2 * DAY),
            marketing("day3", "{{name}}，新人券还剩4天", Offer::None),
            wait("d7", 4 * DAY - 120),
            marketing("day7", "{{name}}，新人券今晚到期", Offer::None),
        ],
    }
}

/// Every playbook, for config defaults and validation.
pub fn all() -> Vec<JourneySpec> {
    vec![
        post_first_order(),
        cart_abandonment(4),
        price_drop(),
        replenishment(),
        birthday(),
        wake_up(SilentTier::Light),
        wake_up(SilentTier::Medium),
        wake_up(SilentTier::Heavy),
        wake_up_high_value(),
        recall(true),
        recall(false),
        new_user_plan(),
    ]
}
