//! Acting on insight: message channels behind a durable outbox
//! ([`channel`], [`outbox`]) that obeys the contact rules ([`policy`]:
//! frequency caps, quiet hours, unsubscribes), and experiments with
//! deterministic bucketing, holdouts and the statistics that judge them
//! ([`experiment`]), and campaigns launched through the outbox with a
//! control group and measured against it ([`campaign`]). Engine code only: no HTTP server; webhooks are sent
//! with an HTTP client. See `docs/engage.md`.

pub mod campaign;
pub mod channel;
pub mod clock;
pub mod config;
mod db;
mod error;
pub mod experiment;
pub mod journey;
pub mod outbox;
pub mod policy;

pub use db::{sqlite_url, Backend};
pub use error::EngageError;

/// Result alias for engage operations.
pub type Result<T, E = EngageError> = std::result::Result<T, E>;
