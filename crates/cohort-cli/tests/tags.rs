//! `cohort tags` and `cohort audience` on a generated shop with the real
//! binary: the recompute's counts are the dry runs', the history records
//! each gain, a dry run reports parse errors with line and column, and
//! exports mask phone numbers unless `--show-pii`.

mod common;

use common::{cohort, ok};

#[test]
fn tags_and_audiences_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&store, &["generate", "--users", "400", "--days", "120"]);
    ok(&store, &["compute"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&store, &["tags", "compute", "--json"])).unwrap();
    assert_eq!(report["persons"], 400);
    let counts = report["counts"].as_array().unwrap().clone();
    assert!(!counts.is_empty(), "{report}");
    for c in &counts {
        let (tag, n) = (c[0].as_str().unwrap(), c[1].as_u64().unwrap());
        let run: serde_json::Value = serde_json::from_str(&ok(&store, &["tags", "test", tag, "--json"])).unwrap();
        assert_eq!(run["matched"].as_u64(), Some(n), "{tag}");
    }
    // A second recompute changes nothing.
    let again: serde_json::Value = serde_json::from_str(&ok(&store, &["tags", "compute", "--json"])).unwrap();
    assert_eq!((again["gained"].as_u64(), again["lost"].as_u64()), (Some(0), Some(0)));

    let bad = cohort(&store, &["tags", "test", "x", "--when", "count(events,\n  30d) >> 1"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("rule \"x\" (--when), line 2, column 9"), "{err}");

    let tag = counts[0][0].as_str().unwrap();
    let holders = counts[0][1].as_u64().unwrap();
    ok(&store, &["audience", "create", "holders", "--filter", &format!("tag(\"{tag}\")")]);
    assert_eq!(ok(&store, &["audience", "size", "holders"]).trim(), holders.to_string());
    let csv = ok(&store, &["audience", "export", "holders", "--format", "csv"]);
    assert_eq!(csv.lines().count() as u64, holders + 1, "a header and one line per member");
    assert!(csv.lines().next().unwrap().starts_with("person_id,phone,"));
    let phones: Vec<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').nth(1)).filter(|p| !p.is_empty()).collect();
    assert!(phones.iter().all(|p| p.contains("****")), "masked by default: {phones:?}");
    let shown = ok(&store, &["audience", "export", "holders", "--format", "ndjson", "--show-pii"]);
    assert_eq!(shown.lines().count() as u64, holders);
    assert!(!shown.contains("****") || phones.is_empty());
    let first = csv.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
    let history = ok(&store, &["tags", "history", &first]);
    assert!(history.contains("gained") && history.contains("(batch)"), "{history}");
}
