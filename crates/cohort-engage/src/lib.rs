//! Acting on insight: message channels behind a durable outbox
//! ([`channel`]), and experiments with deterministic bucketing, holdouts and
//! the statistics that judge them ([`experiment`]). Engine code only: no
//! HTTP server.

pub mod channel;
pub mod experiment;
