//! Lifecycle stage boundaries (defaults: new ≤ 7, active < 30, silent
//! 30–45 / 46–60 / 61–90, churned > 90).

use cohort_model::EventName;
use cohort_model::LifecycleStage::{self, *};

use crate::fixtures::*;

/// Registered `registered` days ago, last page view `inactive` days ago.
fn stage(registered: i64, inactive: Option<i64>) -> (i64, LifecycleStage) {
    let mut h = history("l");
    h.user = Some(user("l", Some(ago(registered, 8))));
    if let Some(days) = inactive {
        h.events.push(ev("v", "l", EventName::PageViewed, ago(days, 9)));
    }
    let p = profile_of(&h);
    (p.inactive_days, p.lifecycle)
}

#[test]
fn stages_by_days_without_activity() {
    let expected = [
        (0, Active),
        (29, Active),
        (30, SilentLight),
        (45, SilentLight),
        (46, SilentMedium),
        (60, SilentMedium),
        (61, SilentHeavy),
        (90, SilentHeavy),
        (91, Churned),
        (400, Churned),
    ];
    for (days, want) in expected {
        assert_eq!(stage(500, Some(days)), (days, want), "{days} days inactive");
    }
}

#[test]
fn new_is_registration_within_seven_days_and_takes_precedence() {
    assert_eq!(stage(7, None).1, New, "7 days, never active");
    assert_eq!(stage(8, None), (8, Active), "8 days, never active: inactive since registration");
    assert_eq!(stage(7, Some(0)).1, New);
    assert_eq!(stage(8, Some(0)).1, Active);
    assert_eq!(stage(0, Some(0)).1, New);
}

#[test]
fn one_visit_in_the_last_30_days_is_active() {
    // The plan's "≥ 2 visits or orders in 30 days" leaves one-visit people in
    // no stage; we count them active and keep visit_days_30d for rules.
    let mut h = history("once");
    h.user = Some(user("once", Some(ago(300, 8))));
    h.events.push(ev("v", "once", EventName::PageViewed, ago(12, 9)));
    let p = profile_of(&h);
    assert_eq!((p.lifecycle, p.visit_days_30d), (Active, 1));
}

#[test]
fn orders_count_as_activity() {
    let p = buyer("b", &[(50, 100)]);
    assert_eq!((p.inactive_days, p.lifecycle), (50, SilentMedium));
}
