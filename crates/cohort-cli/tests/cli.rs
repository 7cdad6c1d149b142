//! The real `cohort` binary in a temporary directory: import atomicity,
//! crash safety, and the Online Retail figures end to end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cohort_duckdb::DuckDbStore;

mod common;
use common::{cohort, ok};

fn query_i64(store: &Path, sql: &str) -> i64 {
    let db = DuckDbStore::open(store).unwrap();
    db.connection().unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn status(store: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(store, &["status", "--json"])).unwrap()
}

const HEADER: &str = "id,person_id,user_id,anonymous_id,event,timestamp,platform,channel,product_id,category,price,quantity,order_id,revenue,discount,coupon,query,rating,review_body,properties";

#[test]
fn strict_import_with_a_bad_row_leaves_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("events.csv");
    std::fs::write(
        &file,
        format!(
            "{HEADER}\n\
             e1,u1,u1,,Product Viewed,2025-03-01T10:00:00Z,app,,p1,零食,19.90,,,,,,,,,\n\
             e2,u1,u1,,Product Added,2025-03-01T10:01:00Z,app,,p1,零食,not-a-price,1,,,,,,,,\n\
             e3,u2,u2,,Order Completed,2025-03-02T10:00:00Z,web,,,,,,o1,99.00,,,,,,\n"
        ),
    )
    .unwrap();
    let out = cohort(&store, &["import", "csv", file.to_str().unwrap(), "--strict"]);
    assert!(!out.status.success(), "strict import must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":3") && stderr.contains("price"), "error names line 3 and the column: {stderr}");
    let s = status(&store);
    assert_eq!(s["stats"]["events"], 0, "nothing stored after a strict failure");
    assert_eq!(s["imports"].as_array().unwrap().len(), 0, "no import recorded");

    // Without --strict the good rows land and the bad one is kept with its reason.
    let stdout = ok(&store, &["import", "csv", file.to_str().unwrap()]);
    assert!(stdout.contains("1 rejected"), "{stdout}");
    assert_eq!(status(&store)["stats"]["events"], 2);
    let rejected = ok(&store, &["rejected"]);
    assert!(rejected.contains("events.csv:3") && rejected.contains("not-a-price"), "{rejected}");
    // Re-importing the same file adds nothing.
    let again = ok(&store, &["import", "csv", file.to_str().unwrap()]);
    assert!(again.contains("already imported"), "{again}");
    let forced = ok(&store, &["import", "csv", file.to_str().unwrap(), "--force"]);
    assert!(forced.contains("0 new events (2 duplicates)"), "{forced}");
    assert_eq!(status(&store)["stats"]["events"], 2);
}

#[test]
fn an_import_killed_midway_leaves_no_partial_batch() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("shop");
    ok(
        &dir.path().join("scratch"),
        &["generate", "--users", "20000", "--days", "365", "--output", files.to_str().unwrap()],
    );
    let events = files.join("events.csv");
    let total_lines = std::fs::read_to_string(&events).unwrap().lines().count() as i64 - 1;
    assert!(total_lines > 100_000, "need a big enough file, got {total_lines} events");
    let mut delay_ms = 150;
    for attempt in 0..6 {
        let store = dir.path().join(format!("store{attempt}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .arg("--store")
            .arg(&store)
            .args(["--quiet", "import", "csv"])
            .arg(&events)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let stored = query_i64(&store, "SELECT count(*) FROM events");
        if still_running {
            assert_eq!(stored, 0, "a killed import must leave nothing (attempt {attempt}, {delay_ms} ms)");
            assert_eq!(query_i64(&store, "SELECT count(*) FROM imports"), 0);
            // and the store still works: the same file imports completely afterwards
            ok(&store, &["import", "csv", events.to_str().unwrap()]);
            assert_eq!(query_i64(&store, "SELECT count(*) FROM events"), total_lines);
            return;
        }
        assert_eq!(stored, total_lines, "a finished import is complete");
        delay_ms /= 2;
    }
    panic!("the import always finished before it could be killed; use a bigger file");
}

fn online_retail() -> Option<PathBuf> {
    cohort_testkit::dataset(cohort_testkit::ONLINE_RETAIL)
}

#[test]
fn online_retail_end_to_end() {
    let Some(file) = online_retail() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let stdout = ok(&store, &["import", "online-retail", file.to_str().unwrap()]);
    println!("{stdout}");
    assert!(stdout.contains("read 541,909 rows"), "{stdout}");
    assert_eq!(query_i64(&store, "SELECT sum(rows_read) FROM imports"), 541_909);
    assert_eq!(query_i64(&store, "SELECT count(*) FROM orders"), 25_900, "invoices");
    assert_eq!(query_i64(&store, "SELECT count(*) FROM order_lines"), 541_909, "every line kept");
    assert_eq!(query_i64(&store, "SELECT count(DISTINCT person_id) FROM orders"), 4_372, "customers");
    let cleaned = "FROM orders o JOIN order_lines l USING (order_id)
                   WHERE o.kind = 'purchase' AND o.person_id IS NOT NULL AND l.quantity > 0 AND l.unit_price_fen > 0";
    assert_eq!(query_i64(&store, &format!("SELECT count(DISTINCT o.person_id) {cleaned}")), 4_338);
    assert_eq!(
        query_i64(&store, &format!("SELECT sum(l.quantity * l.unit_price_fen)::BIGINT {cleaned}")),
        891_140_790,
        "£8,911,407.90 in pence"
    );

    ok(&store, &["compute"]);
    let segments: serde_json::Value = serde_json::from_str(&ok(&store, &["segments", "--json"])).unwrap();
    println!("{}", ok(&store, &["segments"]));
    // Independent check of the value tiers in SQL over the stored orders
    // (as of the last invoice, Shanghai dates = UTC+8 with no DST, 365-day value
    // window).
    let as_of = "(SELECT max(placed_at) FROM orders)";
    let per_customer = format!(
        "WITH p AS (
           SELECT person_id,
                  date_diff('day', CAST(max(placed_at) + INTERVAL 8 HOUR AS DATE),
                                   CAST({as_of} + INTERVAL 8 HOUR AS DATE)) AS r,
                  count(*) FILTER (WHERE date_diff('day', CAST(placed_at + INTERVAL 8 HOUR AS DATE),
                                   CAST({as_of} + INTERVAL 8 HOUR AS DATE)) <= 365) AS f,
                  coalesce(sum(total_fen) FILTER (WHERE date_diff('day', CAST(placed_at + INTERVAL 8 HOUR AS DATE),
                                   CAST({as_of} + INTERVAL 8 HOUR AS DATE)) <= 365), 0) AS m
           FROM orders WHERE kind = 'purchase' AND person_id IS NOT NULL GROUP BY person_id)"
    );
    let high =
        query_i64(&store, &format!("{per_customer} SELECT count(*) FROM p WHERE r <= 30 AND f >= 3 AND m >= 50000"));
    let tier = |name: &str| {
        segments["value_tiers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["segment"] == name)
            .map_or(0, |c| c["count"].as_i64().unwrap())
    };
    println!("independent SQL: high value {high}");
    assert_eq!(tier("high_value"), high, "high-value tier matches SQL");

    // The whole segmentation of the real shop, pinned (as of the last
    // invoice, default thresholds); a change here is a change of definitions
    // and belongs in docs/segments.md.
    let counts = |table: &str| -> Vec<(String, i64)> {
        segments[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["segment"].as_str().unwrap().to_owned(), c["count"].as_i64().unwrap()))
            .collect()
    };
    let expect =
        |pairs: &[(&str, i64)]| -> Vec<(String, i64)> { pairs.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect() };
    assert_eq!(segments["total"], 4_372);
    assert_eq!(segments["rfm_scored"], 4_275, "customers with a purchase in the 365-day value window");
    assert_eq!(
        counts("value_tiers"),
        expect(&[("high_value", 1_122), ("potential", 216), ("low_value", 342), ("general", 2_659), ("prospect", 33)])
    );
    assert_eq!(
        counts("lifecycle"),
        expect(&[
            ("new", 38),
            ("active", 1_641),
            ("silent_light", 440),
            ("silent_medium", 333),
            ("silent_heavy", 466),
            ("churned", 1_454)
        ])
    );
    assert_eq!(
        counts("rfm"),
        expect(&[
            ("champions", 570),
            ("loyal_customers", 687),
            ("potential_loyalists", 460),
            ("new_customers", 69),
            ("promising", 169),
            ("need_attention", 115),
            ("about_to_sleep", 491),
            ("at_risk", 342),
            ("cant_lose", 55),
            ("hibernating", 1_317)
        ])
    );
    // Invoices carry no browsing, search or sharing: everyone is casual.
    assert_eq!(counts("behaviour").last().unwrap(), &("casual".to_owned(), 4_372));
}

/// The main job on a generated shop: every generated event reaches the store
/// and the behaviour types see them.
#[test]
fn demo_runs_the_whole_job_on_a_generated_shop() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // 12,000 users over a year stage more than a DuckDB row group of events.
    let stdout = ok(&store, &["demo", "--users", "12000", "--days", "365", "--seed", "7"]);
    println!("{stdout}");
    let generated: i64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("generated "))
        .and_then(|l| l.split_once("users, "))
        .and_then(|(_, rest)| rest.split_once(" events"))
        .map(|(n, _)| n.replace(',', "").parse().unwrap())
        .expect("generation summary");
    assert!(generated > 122_880, "generated {generated} events");
    assert_eq!(status(&store)["stats"]["events"], generated, "every generated event is stored");
    let segments: serde_json::Value = serde_json::from_str(&ok(&store, &["segments", "--json"])).unwrap();
    assert_eq!(segments["total"], 12_000);
    let casual = segments["behaviour"].as_array().unwrap().iter().find(|c| c["segment"] == "casual").unwrap();
    assert!(casual["count"].as_i64().unwrap() < 12_000, "browsing, searching and sharing are seen");
    assert!(stdout.contains("cohort profile "), "suggests a next step: {stdout}");
}

#[test]
fn analytics_commands_on_a_generated_shop() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&store, &["generate", "--users", "500", "--days", "60"]);
    let funnel: serde_json::Value = serde_json::from_str(&ok(
        &store,
        &[
            "funnel",
            "Product Viewed",
            "Product Added",
            "Order Completed",
            "--window",
            "7d",
            "--breakdown",
            "platform",
            "--json",
        ],
    ))
    .unwrap();
    let people: Vec<i64> = funnel["steps"].as_array().unwrap().iter().map(|s| s["persons"].as_i64().unwrap()).collect();
    assert!(people[0] > people[2] && people[2] > 0, "{people:?}");
    let by_platform: i64 =
        funnel["breakdowns"].as_array().unwrap().iter().map(|b| b["steps"][0]["persons"].as_i64().unwrap()).sum();
    assert_eq!(by_platform, people[0]);
    let table = ok(&store, &["funnel", "pv", "Product Added[platform=app]", "--dropped-at", "2"]);
    assert!(table.contains("Product Added[platform=app]") && table.contains("dropped at step 2"), "{table}");
    let retention: serde_json::Value =
        serde_json::from_str(&ok(&store, &["retention", "--cohort", "order", "--returning", "order", "--json"]))
            .unwrap();
    assert_eq!(retention["period"], "week");
    assert!(!retention["cohorts"].as_array().unwrap().is_empty());
    // lifecycle: growth accounting holds period to period
    // (active = previous active − dormant + new + resurrected)
    let lifecycle: serde_json::Value =
        serde_json::from_str(&ok(&store, &["lifecycle", "--period", "week", "--json"])).unwrap();
    let rows = lifecycle["periods"].as_array().unwrap();
    assert!(rows.len() > 2, "{lifecycle}");
    let n = |r: &serde_json::Value, k: &str| r[k].as_i64().unwrap();
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(n(b, "active"), n(a, "active") - n(b, "dormant") + n(b, "new") + n(b, "resurrected"), "{b}");
    }
    assert!(ok(&store, &["lifecycle", "--period", "month"]).contains("resurrected"));
    let board = ok(&store, &["kpi"]);
    assert!(board.contains("7-day repurchase of new customers") && board.contains(">= 15.0%"), "{board}");
    assert!(board.contains("<= ¥50.00") && board.contains("no marketing spend imported"), "{board}");
    // marketing spend: imported, then CAC per channel on the board
    let spend = dir.path().join("spend.csv");
    std::fs::write(&spend, "date,channel,spend_fen\n2020-01-01,douyin,100\n").unwrap();
    assert!(ok(&store, &["import", "spend", spend.to_str().unwrap()]).contains("marketing spend: 1 rows"));
    let bad = dir.path().join("bad-spend.csv");
    std::fs::write(&bad, "date,channel,spend_fen\n2020-01-01,douyin,cheap\n").unwrap();
    let out = cohort(&store, &["import", "spend", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2.spend_fen"), "{out:?}");
    let paths = ok(&store, &["paths", "--before", "Order Completed", "--length", "3"]);
    assert!(paths.contains("→ Order Completed"), "{paths}");
    // impossible specs fail with the field and the reason
    let out = cohort(&store, &["funnel", "Product Viewed", "Teleported", "--window", "0d"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("steps[1].event: unknown event \"Teleported\"") && err.contains("window: window must be positive"),
        "{err}"
    );
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        serde_json::json!({"steps": (0..33).map(|_| serde_json::json!({"event": "pv"})).collect::<Vec<_>>()})
            .to_string(),
    )
    .unwrap();
    let out = cohort(&store, &["funnel", "--spec", spec.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("steps: at most 32 steps, got 33"));
}
