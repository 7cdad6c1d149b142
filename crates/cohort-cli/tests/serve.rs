//! `cohort serve` as a real process: SIGKILL mid-stream loses nothing that
//! was acknowledged and stores nothing twice.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cohort_duckdb::DuckDbStore;
use serde_json::json;

const KEY: &str = "wk_crash";

fn serve(store: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--store")
        .arg(store)
        .args(["--quiet", "serve", "--listen", "127.0.0.1:0", "--write-key", KEY])
        .env_remove("COHORT_CONFIG")
        .env_remove("COHORT_WRITE_KEYS")
        .env_remove("COHORT_LISTEN")
        .stdout(Stdio::piped())
        .spawn()
        .expect("cohort serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, format!("http://{addr}"))
}

fn batch(sender: usize, n: usize) -> (Vec<String>, serde_json::Value) {
    let ids: Vec<String> = (0..50).map(|i| format!("s{sender}-b{n}-m{i}")).collect();
    let messages: Vec<_> = ids
        .iter()
        .map(|id| {
            json!({"type": "track", "messageId": id, "event": "Product Viewed", "anonymousId": format!("dev-{sender}"),
                   "timestamp": "2025-03-01T10:00:00Z", "properties": {"product_id": "p1", "price": 9.9}})
        })
        .collect();
    (ids, json!({ "batch": messages }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_keeps_every_acknowledged_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (mut child, url) = serve(&store);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let unacked = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let client = reqwest::Client::new();
    let mut senders = Vec::new();
    for sender in 0..4 {
        let (acked, unacked, client, url) = (acked.clone(), unacked.clone(), client.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            for n in 0.. {
                let (ids, body) = batch(sender, n);
                let sent = client
                    .post(format!("{url}/v1/batch"))
                    .basic_auth(KEY, Some(""))
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().extend(ids),
                    _ => {
                        unacked.lock().unwrap().push(body);
                        break;
                    }
                }
            }
        }));
    }
    // Let the stream run, then kill the server without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200, "the stream ran before the kill ({} acknowledged)", acked.len());

    // Restart; the senders retry what was not acknowledged.
    let (mut child, url) = serve(&store);
    let retries = unacked.lock().unwrap().clone();
    for body in &retries {
        let r = client.post(format!("{url}/v1/batch")).basic_auth(KEY, Some("")).json(body).send().await.unwrap();
        assert!(r.status().is_success());
    }
    // SIGTERM: graceful shutdown.
    Command::new("kill").arg(child.id().to_string()).status().unwrap();
    assert!(child.wait().unwrap().success(), "graceful shutdown exits 0");

    let db = DuckDbStore::open(&store).unwrap();
    let conn = db.connection().unwrap();
    let duplicates: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(duplicates, 0, "no message stored twice");
    let mut stmt = conn.prepare("SELECT event_id FROM events").unwrap();
    let stored: std::collections::HashSet<String> =
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "{} acknowledged messages lost, e.g. {:?}", missing.len(), missing.first());
}
