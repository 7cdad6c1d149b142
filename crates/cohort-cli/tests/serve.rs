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
    serve_with(store, &["--write-key", KEY])
}

/// `cohort` with no key or listen address from the environment.
fn cohort(store: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cohort"));
    command.arg("--store").arg(store).arg("--quiet");
    for var in ["COHORT_CONFIG", "COHORT_WRITE_KEYS", "COHORT_ADMIN_KEYS", "COHORT_LISTEN"] {
        command.env_remove(var);
    }
    command
}

fn serve_with(store: &Path, keys: &[&str]) -> (Child, String) {
    let mut child = cohort(store)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(keys)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_keys_print_the_secret_once_open_serve_and_revoke_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let refused = cohort(&store).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!refused.status.success(), "no key anywhere: serve refuses to start");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no key") && stderr.contains("cohort keys create"), "{stderr}");

    let created = cohort(&store).args(["keys", "create", "--role", "write", "--name", "web-shop"]).output().unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8(created.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "stdout is the secret alone: {stdout:?}");
    let secret = stdout.trim().to_string();
    assert!(secret.starts_with("ck_write_") && secret.len() > 40, "{secret}");

    let listed = cohort(&store).args(["keys", "list"]).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(!listed.contains(&secret), "list never shows a secret: {listed}");
    let text = std::fs::read_to_string(store.join("keys.json")).unwrap();
    assert!(!text.contains(&secret), "the key file holds only the hash");
    let line = listed.lines().find(|l| l.contains("web-shop")).expect("the key is listed by name");
    assert!(line.contains("write") && line.contains(&secret[..14]), "role and prefix shown: {line}");
    let id = line.split_whitespace().next().unwrap().to_string();
    assert!(id.starts_with("key_"));

    // Only the file's key: serve starts and accepts it.
    let (mut child, url) = serve_with(&store, &[]);
    let client = reqwest::Client::new();
    let send = |n: usize| {
        let request = client.post(format!("{url}/v1/batch")).basic_auth(&secret, None::<&str>).json(&batch(0, n).1);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(0).await, 200);
    let revoked = cohort(&store).args(["keys", "revoke", &id]).output().unwrap();
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert_eq!(send(1).await, 401, "revoked while the server runs");
    let listed = cohort(&store).args(["keys", "list"]).output().unwrap();
    assert!(String::from_utf8(listed.stdout).unwrap().contains("revoked"));
    child.kill().unwrap();
    child.wait().unwrap();
}
