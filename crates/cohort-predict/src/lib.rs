//! Prediction on profiles and purchase histories: behaviour clusters
//! ([`cluster`]), churn risk ([`churn`]), customer lifetime value
//! ([`clv`]) and replenishment timing ([`replenish`]). Engine code only: no
//! HTTP, no storage engine; inputs come from [`cohort_store::EventStore`]
//! and the profiles `cohort compute` writes.

pub mod churn;
pub mod cluster;
pub mod clv;
pub mod replenish;
