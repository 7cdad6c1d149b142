//! The webhook sink: one HTTP POST per message, JSON body, signed with
//! HMAC-SHA256 over `"{timestamp}.{body}"` so the receiver can check both
//! origin and freshness (the Stripe / Slack scheme). Status codes decide
//! the fate of an attempt: 2xx delivered; 408, 429, 5xx, timeouts and
//! connection errors transient (retried with backoff); other 4xx permanent
//! (dead-lettered at once, since repeating the same request cannot succeed).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Attempt, Envelope};

/// Header carrying `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-cohort-signature";
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-cohort-timestamp";
/// Header carrying the outbox message id (receivers deduplicate on it).
pub const MESSAGE_ID_HEADER: &str = "x-cohort-message-id";

/// A webhook endpoint and its delivery policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Endpoint, `http://` or `https://`.
    pub url: String,
    /// Shared HMAC secret.
    pub secret: String,
    /// Per-request timeout, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts before a message is dead-lettered (N).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay, seconds; doubled per attempt.
    #[serde(default = "default_backoff_base_s")]
    pub backoff_base_s: u64,
    /// Longest retry delay, seconds.
    #[serde(default = "default_backoff_max_s")]
    pub backoff_max_s: u64,
}

fn default_timeout_ms() -> u64 {
    5_000
}
fn default_max_attempts() -> u32 {
    5
}
fn default_backoff_base_s() -> u64 {
    30
}
fn default_backoff_max_s() -> u64 {
    3_600
}

impl WebhookConfig {
    /// A config with default timeout, 5 attempts and 30 s → 1 h backoff.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            timeout_ms: default_timeout_ms(),
            max_attempts: default_max_attempts(),
            backoff_base_s: default_backoff_base_s(),
            backoff_max_s: default_backoff_max_s(),
        }
    }

    /// The delay before attempt `attempt + 1` after `attempt` failed
    /// (attempt counts from 1): base × 2^(attempt−1), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(30);
        Duration::from_secs(self.backoff_base_s.saturating_mul(factor).min(self.backoff_max_s))
    }
}

// One signing scheme for every webhook Cohort sends (audience exports too):
// `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub use cohort_audience::webhook::{sign, verify_signature};

/// Posts one message. Never errors: every failure is an [`Attempt`].
pub(crate) async fn post(client: &reqwest::Client, config: &WebhookConfig, env: &Envelope, now_s: i64) -> Attempt {
    let body = match serde_json::to_vec(env) {
        Ok(b) => b,
        Err(e) => return Attempt::Permanent { http_status: None, error: format!("encoding: {e}") },
    };
    let signature = sign(&config.secret, now_s, &body);
    let request = client
        .post(&config.url)
        .timeout(Duration::from_millis(config.timeout_ms))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, now_s.to_string())
        .header(MESSAGE_ID_HEADER, env.id.to_string())
        .body(body);
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            if resp.status().is_success() {
                Attempt::Delivered { http_status: Some(status) }
            } else {
                let text: String = resp.text().await.unwrap_or_default().chars().take(200).collect();
                let error = format!("HTTP {status}: {text}");
                if status == 408 || status == 429 || status >= 500 {
                    Attempt::Transient { http_status: Some(status), error }
                } else {
                    Attempt::Permanent { http_status: Some(status), error }
                }
            }
        }
        Err(e) => Attempt::Transient {
            http_status: None,
            error: if e.is_timeout() { "timeout".to_string() } else { format!("request failed: {e}") },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_reference_and_verifies() {
        // Reference: python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'k3y', b'1700000000.{\"a\":1}', hashlib.sha256).hexdigest())"
        let sig = sign("k3y", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(sig, format!("sha256={}", REFERENCE));
        assert!(verify_signature("k3y", 1_700_000_000, br#"{"a":1}"#, &sig));
        assert!(!verify_signature("k3y", 1_700_000_001, br#"{"a":1}"#, &sig));
        assert!(!verify_signature("other", 1_700_000_000, br#"{"a":1}"#, &sig));
        assert!(!verify_signature("k3y", 1_700_000_000, br#"{"a":2}"#, &sig));
        assert!(!verify_signature("k3y", 1_700_000_000, br#"{"a":1}"#, "md5=00"));
    }

    const REFERENCE: &str = "fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a";

    #[test]
    fn backoff_doubles_and_caps() {
        let c = WebhookConfig { backoff_base_s: 30, backoff_max_s: 200, ..WebhookConfig::new("http://x", "s") };
        let secs: Vec<u64> = (1..=5).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![30, 60, 120, 200, 200]);
    }
}
