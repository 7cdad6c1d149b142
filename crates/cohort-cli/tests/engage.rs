//! `cohort experiment` and `cohort campaign` with the real binary: the
//! read-out of fixed counts, and a campaign launched on a contact file,
//! re-launched (nothing twice), an unsubscribe, and its measurement.

mod common;
use common::ok;

#[test]
fn experiment_analyze_and_assign() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(dir.path(), &["experiment", "analyze", "control=200/2000", "treatment=250/2000"]);
    // Same counts as the library's SciPy-checked test: +2.5 pt [+0.54, +4.46], p 0.0124.
    assert!(out.contains("+2.50 pt [+0.54, +4.46]") && out.contains("0.0124"), "{out}");
    assert!(out.contains("99.38%"), "chance to win: {out}");
    assert!(out.contains("chi-square 0.00, p = 1.0000 (ok)"), "{out}");
    let skewed = ok(dir.path(), &["experiment", "analyze", "control=500/5300", "treatment=500/4700"]);
    assert!(skewed.contains("MISMATCH"), "{skewed}");
    let assigned = ok(
        dir.path(),
        &["experiment", "assign", "--experiment", "spring", "--arms", "control=1,treatment=1", "u1", "u2"],
    );
    assert_eq!(assigned.lines().count(), 2);
    assert_eq!(
        assigned,
        ok(
            dir.path(),
            &["experiment", "assign", "--experiment", "spring", "--arms", "control=1,treatment=1", "u1", "u2"]
        )
    );
}

#[test]
fn campaign_launch_relaunch_unsubscribe_and_measure() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let spec = dir.path().join("wake.toml");
    std::fs::write(
        &spec,
        r#"
id = "wake_cli"
channel = "sms"
control_bp = 2000
message_cost = 5
[template]
name = "wake"
body = "{{name}}，好久不见，新品上架啦。回T退订"
[offer]
kind = "none"
[send]
kind = "now"
[targets]
min_conversion_rate = 0.08
min_revenue_to_cost = 3.0
"#,
    )
    .unwrap();
    let contacts = dir.path().join("contacts.csv");
    let mut csv = String::from("person_id,recipient,name,peak_hour\n");
    for i in 1..=40 {
        csv.push_str(&format!("p{i},1380000{i:04},会员{i},20\n"));
    }
    std::fs::write(&contacts, csv).unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    ok(&store, &["campaign", "unsubscribe", "p3"]);
    let out = ok(&store, &["campaign", "launch", "--spec", &s(&spec), "--contacts", &s(&contacts)]);
    assert!(out.contains("audience 40"), "{out}");
    let again = ok(&store, &["campaign", "launch", "--spec", &s(&spec), "--contacts", &s(&contacts)]);
    assert!(again.contains("scheduled 0") && again.contains("already launched 40"), "{again}");
    let status = ok(&store, &["campaign", "status", "wake_cli"]);
    assert!(status.lines().count() == 3, "{status}");
    let outcomes = dir.path().join("outcomes.csv");
    std::fs::write(&outcomes, "person_id,converted,revenue_fen,discount_fen\np1,1,12000,0\np2,1,8000,0\n").unwrap();
    let measured = ok(&store, &["campaign", "measure", "--spec", &s(&spec), "--outcomes", &s(&outcomes), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&measured).unwrap();
    assert_eq!(report["audience"], 40);
    assert_eq!(report["treatment"].as_u64().unwrap() + report["control"].as_u64().unwrap(), 40);
    assert!(std::fs::metadata(store.join("engage.sqlite")).is_ok());
}
