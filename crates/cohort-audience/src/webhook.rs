//! Audience exports to a webhook: the members as NDJSON in one POST,
//! signed and retried.
//!
//! The signature is the scheme of engage's webhook channel (the Stripe /
//! Slack one), so one receiver checks both: `x-cohort-timestamp` carries
//! the signing time in Unix seconds and `x-cohort-signature` carries
//! `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`. Each attempt
//! is signed afresh. `x-cohort-delivery` names the export, the same on
//! every attempt, so a receiver can drop a retry it already stored.
//!
//! Status codes decide: 2xx delivered; 408, 429, 5xx, timeouts and
//! connection errors are transient and retried after `backoff`, doubled
//! per attempt up to `max_backoff`; any other status is permanent (sending
//! the same request again cannot succeed) and fails at once. After
//! `max_attempts` the export fails naming every attempt's outcome.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AudienceError;

/// Header carrying `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-cohort-signature";
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-cohort-timestamp";
/// Header naming the export (the same on every attempt).
pub const DELIVERY_HEADER: &str = "x-cohort-delivery";
/// Header naming the audience.
pub const AUDIENCE_HEADER: &str = "x-cohort-audience";

/// Where and how an export is delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    /// Endpoint, `http://…`.
    pub url: String,
    /// Shared HMAC secret.
    pub secret: String,
    /// Attempts before the export fails (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each one after.
    pub backoff: Duration,
    /// Longest delay between attempts.
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl WebhookTarget {
    /// A target with 5 attempts, 1 s → 60 s backoff and a 30 s timeout.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookTarget {
            url: url.into(),
            secret: secret.into(),
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }

    /// The delay after failed attempt `attempt` (from 1): backoff × 2^(attempt−1), capped.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// The signature header value for `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a received signature in constant time (for receivers and tests).
pub fn verify_signature(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let Some(bytes) = signature.strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// A delivered export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Attempts made (1 = first time).
    pub attempts: u32,
    /// The status that accepted it.
    pub status: u16,
}

/// One attempt's outcome.
enum Outcome {
    Delivered(u16),
    Transient(String),
    Permanent(String),
}

async fn attempt(
    client: &reqwest::Client,
    target: &WebhookTarget,
    audience: &str,
    delivery: &str,
    body: &[u8],
) -> Outcome {
    let now = chrono::Utc::now().timestamp();
    let request = client
        .post(&target.url)
        .timeout(target.timeout)
        .header("content-type", "application/x-ndjson")
        .header(AUDIENCE_HEADER, audience)
        .header(DELIVERY_HEADER, delivery)
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(SIGNATURE_HEADER, sign(&target.secret, now, body))
        .body(body.to_vec());
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            if resp.status().is_success() {
                return Outcome::Delivered(status);
            }
            let text: String = resp.text().await.unwrap_or_default().chars().take(200).collect();
            let text = text.trim();
            let error = if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status} {text}") };
            if status == 408 || status == 429 || status >= 500 {
                Outcome::Transient(error)
            } else {
                Outcome::Permanent(error)
            }
        }
        Err(e) if e.is_timeout() => Outcome::Transient("timed out".into()),
        Err(e) => Outcome::Transient(format!("request failed: {e}")),
    }
}

/// POSTs an export (`body`, NDJSON) of `audience` to the target, retrying
/// transient failures; `delivery` names the export in every attempt.
pub async fn deliver(
    target: &WebhookTarget,
    audience: &str,
    delivery: &str,
    body: &[u8],
) -> Result<Delivery, AudienceError> {
    let client = reqwest::Client::new();
    let attempts = target.max_attempts.max(1);
    let mut outcomes = Vec::new();
    for n in 1..=attempts {
        match attempt(&client, target, audience, delivery, body).await {
            Outcome::Delivered(status) => return Ok(Delivery { attempts: n, status }),
            Outcome::Permanent(error) => {
                outcomes.push(format!("attempt {n}: {error} (not retried)"));
                break;
            }
            Outcome::Transient(error) => {
                outcomes.push(format!("attempt {n}: {error}"));
                if n < attempts {
                    tokio::time::sleep(target.delay_after(n)).await;
                }
            }
        }
    }
    Err(AudienceError::Webhook {
        url: target.url.clone(),
        attempts: outcomes.len() as u32,
        outcomes: outcomes.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_engage_s_scheme_and_backoff_doubles() {
        // The reference of engage's webhook test: python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'k3y', b'1700000000.{\"a\":1}', hashlib.sha256).hexdigest())"
        let sig = sign("k3y", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(sig, "sha256=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a");
        assert!(verify_signature("k3y", 1_700_000_000, br#"{"a":1}"#, &sig));
        assert!(!verify_signature("k3y", 1_700_000_001, br#"{"a":1}"#, &sig));
        assert!(!verify_signature("other", 1_700_000_000, br#"{"a":1}"#, &sig));
        assert!(!verify_signature("k3y", 1_700_000_000, br#"{"a":1}"#, "md5=00"));
        let t = WebhookTarget::new("http://x", "s");
        let delays: Vec<u64> = (1..=8).map(|n| t.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
