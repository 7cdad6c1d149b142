//! Prometheus metrics, one registry per server (no global state, so tests
//! can run several servers in one process).

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// The collector's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Messages committed, by call type.
    pub accepted: IntCounterVec,
    /// Messages or requests refused, by reason.
    pub rejected: IntCounterVec,
    /// Requests answered 429.
    pub throttled: IntCounter,
    /// Messages waiting for the writer.
    pub queue_depth: IntGauge,
    /// Seconds per group commit.
    pub commit_seconds: Histogram,
    /// Messages per group commit.
    pub commit_messages: Histogram,
    /// Seconds from a request's arrival to its answer (ingest endpoints).
    pub request_seconds: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, label: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            registry.register(Box::new(c.clone())).expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid metric");
            registry.register(Box::new(h.clone())).expect("unique metric");
            h
        };
        let seconds = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let accepted = counter_vec("cohort_messages_accepted_total", "Messages committed, by call type.", "call");
        let rejected =
            counter_vec("cohort_messages_rejected_total", "Messages or requests refused, by reason.", "reason");
        let throttled = IntCounter::new("cohort_requests_throttled_total", "Requests answered 429.").expect("valid");
        registry.register(Box::new(throttled.clone())).expect("unique metric");
        let queue_depth = IntGauge::new("cohort_queue_depth", "Messages waiting for the writer.").expect("valid");
        registry.register(Box::new(queue_depth.clone())).expect("unique metric");
        let commit_seconds = histogram("cohort_commit_seconds", "Seconds per group commit.", seconds.clone());
        let commit_messages = histogram(
            "cohort_commit_messages",
            "Messages per group commit.",
            vec![1.0, 10.0, 100.0, 1_000.0, 10_000.0, 50_000.0, 100_000.0],
        );
        let request_seconds =
            histogram("cohort_request_seconds", "Seconds from request to answer on ingest endpoints.", seconds);
        Metrics {
            registry,
            accepted,
            rejected,
            throttled,
            queue_depth,
            commit_seconds,
            commit_messages,
            request_seconds,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

/// A bounded label for a refusal: the top-level field.
pub(crate) fn reason_label(field: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "message",
        "type",
        "userId",
        "anonymousId",
        "previousId",
        "messageId",
        "event",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "properties",
        "traits",
        "context",
        "platform",
    ];
    let top = field.split('.').next().unwrap_or_default();
    KNOWN.iter().find(|k| **k == top).copied().unwrap_or("other")
}
