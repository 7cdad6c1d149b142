//! The `[segments]` configuration: defaults, errors, embedding.

use cohort_insight::{InsightConfig, InsightError};
use cohort_model::Money;
use serde::Deserialize;

#[test]
fn defaults_are_the_business_plan_figures() {
    let c = InsightConfig::default();
    assert_eq!(c.time_zone, "Asia/Shanghai");
    let v = &c.value;
    assert_eq!(v.window_days, 365);
    assert_eq!((v.high_max_recency_days, v.high_min_orders, v.high_min_monetary_fen), (30, 3, Money::from_fen(50_000)));
    assert_eq!((v.potential_max_recency_days, v.potential_min_orders, v.potential_max_orders), (30, 1, 2));
    assert_eq!(
        (v.potential_min_monetary_fen, v.potential_max_monetary_fen),
        (Money::from_yuan(200), Money::from_yuan(500))
    );
    assert_eq!((v.low_min_recency_days, v.low_max_orders, v.low_max_monetary_fen), (90, 1, Money::from_yuan(200)));
    let l = &c.lifecycle;
    assert_eq!(
        (
            l.new_max_registration_days,
            l.active_max_inactive_days,
            l.silent_light_max_inactive_days,
            l.silent_medium_max_inactive_days,
            l.silent_heavy_max_inactive_days
        ),
        (7, 29, 45, 60, 90)
    );
    let b = &c.behaviour;
    assert_eq!((b.sharer_min_shares_90d, b.comparer_min_comparison_days_90d), (3, 2));
    assert_eq!((b.searcher_min_searches_90d, b.searcher_min_search_percent_of_views), (5, 30));
    assert_eq!((b.browser_min_views_90d, b.browser_min_views_per_order), (20, 50));
    c.validate().unwrap();
}

#[test]
fn a_project_file_overrides_some_fields() {
    let text = r#"
        [store]
        path = "data"          # another section: not ours

        [segments]
        time_zone = "Europe/London"

        [segments.value]
        window_days = 180
        high_min_monetary_fen = 80000
    "#;
    let c = InsightConfig::from_toml_str(text).unwrap();
    assert_eq!(c.time_zone, "Europe/London");
    assert_eq!(c.value.window_days, 180);
    assert_eq!(c.value.high_min_monetary_fen, Money::from_yuan(800));
    assert_eq!(c.value.high_min_orders, 3, "unset fields keep their default");
    assert_eq!(c.lifecycle, Default::default());
    assert_eq!(InsightConfig::from_toml_str("").unwrap(), InsightConfig::default());
}

fn issues(text: &str) -> Vec<String> {
    match InsightConfig::from_toml_str(text) {
        Err(e @ InsightError::Config { .. }) => {
            let all = e.to_string();
            let listed: Vec<String> = e.issues().iter().map(ToString::to_string).collect();
            for issue in &listed {
                assert!(all.contains(issue.as_str()), "{all} lists {issue}");
            }
            listed
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn unknown_fields_are_named() {
    let got = issues("[segments.value]\nwindow_dayz = 10\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("segments.value.window_dayz: unknown field `window_dayz`"), "{got:?}");
    let got = issues("[segments]\ncolour = 1\n");
    assert!(got[0].starts_with("segments.colour: unknown field"), "{got:?}");
}

#[test]
fn wrong_types_are_named() {
    let got = issues("[segments.lifecycle]\nnew_max_registration_days = \"seven\"\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("segments.lifecycle.new_max_registration_days: invalid type"), "{got:?}");
    let got = issues("[segments]\ntime_zone = 8\n");
    assert!(got[0].starts_with("segments.time_zone: expected a string"), "{got:?}");
    let got = issues("segments = 3\n");
    assert!(got[0].starts_with("segments: expected a table"), "{got:?}");
}

#[test]
fn every_error_is_reported_at_once() {
    let text = r#"
        [segments]
        time_zone = "Mars/Olympus"
        [segments.value]
        window_days = -1
        high_min_orders = "three"
        bogus = true
        [segments.lifecycle]
        silent_medium_max_inactive_days = 40
        [segments.behaviour]
        browser_min_views_90d = 1.5
    "#;
    let got = issues(text);
    let paths: Vec<&str> = got.iter().map(|i| i.split(':').next().unwrap()).collect();
    for want in [
        "segments.value.window_days",
        "segments.value.high_min_orders",
        "segments.value.bogus",
        "segments.behaviour.browser_min_views_90d",
        "segments.time_zone",
        "segments.lifecycle.silent_medium_max_inactive_days",
    ] {
        assert!(paths.contains(&want), "{want} missing from {got:#?}");
    }
}

#[test]
fn inconsistent_thresholds_are_refused() {
    let mut c = InsightConfig::default();
    c.lifecycle.silent_heavy_max_inactive_days = 60;
    c.value.potential_min_orders = 3;
    let e = c.validate().unwrap_err();
    let text = e.to_string();
    assert!(text.contains("segments.lifecycle.silent_heavy_max_inactive_days: must be greater than"), "{text}");
    assert!(text.contains("segments.value.potential_min_orders"), "{text}");
    assert!(issues("[segments.value]\nwindow_days = 0\n")[0].contains("must be at least 1"));
}

#[test]
fn the_cli_can_embed_the_section() {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Project {
        #[serde(default)]
        segments: InsightConfig,
    }
    let p: Project = toml::from_str("[segments.behaviour]\nsharer_min_shares_90d = 9\n").unwrap();
    assert_eq!(p.segments.behaviour.sharer_min_shares_90d, 9);
    let e = toml::from_str::<Project>("[segments.behaviour]\nsharer = 9\n").err().unwrap();
    assert!(e.to_string().contains("unknown field `sharer`"), "{e}");
}

#[test]
fn load_reads_a_file_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("cohort-insight-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cohort.toml");
    std::fs::write(&path, "[segments.lifecycle]\nnew_max_registration_days = 14\n").unwrap();
    assert_eq!(InsightConfig::load(&path).unwrap().lifecycle.new_max_registration_days, 14);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = InsightConfig::load(dir.join("missing.toml")).unwrap_err();
    assert!(matches!(e, InsightError::Io { .. }) && e.to_string().contains("missing.toml"), "{e}");
}
