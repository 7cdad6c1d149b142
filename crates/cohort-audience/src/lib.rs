//! Dynamic tags and audiences.
//!
//! A **tag rule** is a name, a description and a condition in a small
//! language ([`lang`]) over one person's events, orders, stored profile and
//! registered attributes: rolling windows (`30d`, `24h`), filters on event
//! properties, shares, calendar months and sequences ("added to cart and no
//! order within 24 h"). Parse errors name the rule, line and column.
//!
//! One evaluator ([`Subject`]) serves everything: the batch recompute
//! ([`TagEngine::recompute_all`]), the incremental update the collector runs
//! for the persons of each committed batch ([`TagEngine::update_persons`]),
//! dry runs, and **audiences** ([`Audience`]) — saved filters that may also
//! read tags, static (a snapshot) or dynamic. Only differences are stored,
//! so the tag history holds one `gained` / `lost` row per change.
//!
//! Personal data is masked in every output unless the caller may see it
//! ([`Pii`]). Storage is the [`cohort_store::AudienceStore`] contract.

mod audience;
mod config;
mod engine;
mod error;
mod eval;
pub mod lang;
mod pii;
mod profile;
mod rules;
pub mod webhook;

pub use audience::{
    breakdown, export, load as load_audience, page, sample, Audience, AudienceKind, Dimension, ExportFormat, Filter,
    MemberRow, Members,
};
pub use config::{next_daily, TagsConfig};
pub use engine::{diff, DryRun, PersonUpdate, RecomputeReport, TagEngine};
pub use error::AudienceError;
pub use eval::Subject;
pub use pii::{is_pii_key, Pii};
pub use profile::{
    BookReport, HeldEvent, HeldProfile, Lookup, PersonView, ProfileBook, EVENTS_KEPT, TAG_CHANGES_SHOWN,
};
pub use rules::{check_name, example_rules, parse_rules, rules_in_force, RuleSpec, TagRule};
