//! Integration tests of the engage engine: the outbox against a real HTTP
//! receiver started by the test, experiments' statistics against reference
//! values and by simulation.

mod campaign;
mod campaign_store;
mod common;
mod journey;
mod journey_entry;
mod outbox;
mod playbooks;
mod postgres;
mod stats;
