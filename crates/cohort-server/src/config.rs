//! `[server]` settings of `cohort.toml`.

use serde::{Deserialize, Serialize};

/// The collection service's settings (the `[server]` table of `cohort.toml`;
/// `cohort serve` applies `COHORT_LISTEN` and `COHORT_WRITE_KEYS` on top).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// Write keys accepted as the Basic-auth user name (as Segment SDKs
    /// send them). With none configured every ingest request gets 401.
    pub write_keys: Vec<String>,
    /// Secret keys of the shop's backend, required by admin routes (loyalty,
    /// coupons). Never put one in an app or web page. With none configured
    /// every admin request gets 401.
    pub admin_keys: Vec<String>,
    /// Largest request body, compressed or not (Segment: 500 KB).
    pub max_body_bytes: usize,
    /// Largest single message (Segment: 32 KB).
    pub max_message_bytes: usize,
    /// Deepest nesting inside `properties`, `traits` and `context`.
    pub max_depth: usize,
    /// Most keys in `properties`, `traits` and `context` of one message.
    pub max_keys: usize,
    /// How many hours after the server's clock a (skew-corrected) timestamp may be.
    pub max_future_hours: i64,
    /// Messages accepted but not yet committed; beyond it requests get 429.
    pub queue_messages: usize,
    /// How long the writer waits for more messages before committing (ms).
    pub commit_linger_ms: u64,
    /// Most messages in one commit.
    pub commit_max_messages: usize,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after_secs: u64,
    /// How long a `messageId` is remembered (seconds; default 7 days): a
    /// retry within the window is acknowledged and stored once; one sent
    /// later is stored again.
    pub dedupe_window_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8088".into(),
            write_keys: Vec::new(),
            admin_keys: Vec::new(),
            max_body_bytes: 500 * 1024,
            max_message_bytes: 32 * 1024,
            max_depth: 8,
            max_keys: 1000,
            max_future_hours: 24,
            queue_messages: 200_000,
            commit_linger_ms: 1,
            commit_max_messages: 100_000,
            retry_after_secs: 1,
            dedupe_window_secs: 7 * 24 * 3600,
        }
    }
}

impl ServerConfig {
    /// The decoder limits these settings describe.
    pub fn limits(&self) -> cohort_collect::segment::Limits {
        cohort_collect::segment::Limits {
            max_body_bytes: self.max_body_bytes,
            max_message_bytes: self.max_message_bytes,
            max_depth: self.max_depth,
            max_keys: self.max_keys,
            max_future: chrono::Duration::hours(self.max_future_hours),
        }
    }
}
