//! Analytics: funnels, retention cohorts, the KPI / OKR board and path
//! analysis, as a typed query model compiled to the store's SQL.
//!
//! A spec ([`FunnelSpec`], [`RetentionSpec`], [`LifecycleSpec`], [`KpiSpec`],
//! [`PathSpec`]) is
//! plain serde data: the CLI reads it from flags or a JSON file, an HTTP
//! layer can take it as a request body unchanged. [`Analytics`] validates
//! it (every problem named by its field, see [`AnalyticsError`]), compiles
//! it through a [`Dialect`] to SQL, runs that on the embedded DuckDB store
//! and returns serde-serialisable results. Only the dialect knows engine
//! spellings, so a ClickHouse backend is one more [`Dialect`], not a second
//! analytics engine. Funnels are the one place where a Rust pass does part
//! of the work: SQL selects and tags the events, and one linear pass per
//! person matches the sequence (exact for every ordering mode).
//!
//! Time: instants are UTC in the store; days, weeks (Monday first) and
//! months are the shop's ([`cohort_model::ShopTime`]), compiled into the SQL
//! as the zone's UTC offsets over the data's range ([`zone`]).
//!
//! Definitions are in `docs/analytics.md`.

mod error;
mod exec;

pub mod cac;
pub mod ctr;
pub mod dialect;
pub mod funnel;
pub mod kpi;
pub mod lifecycle;
pub mod paths;
pub mod retention;
pub mod segment_history;
pub mod spec;
pub mod spend;
pub mod zone;

pub use cac::CacPeriodRow;
pub use dialect::{Dialect, DuckDb};
pub use error::{AnalyticsError, Result, SpecIssue};
pub use exec::Analytics;
pub use funnel::{
    DroppedAudience, Exclusion, FunnelBreakdown, FunnelMode, FunnelResult, FunnelSpec, FunnelStep, FunnelStepResult,
};
pub use kpi::{CacRow, Kpi, KpiBoard, KpiSpec, KpiTarget, KpiTargets, KpiUnit, LtvRow, SegmentShare};
pub use lifecycle::{LifecycleResult, LifecycleRow, LifecycleSpec};
pub use paths::{PathResult, PathRow, PathSpec};
pub use retention::{CohortRow, RetentionMode, RetentionResult, RetentionSpec};
pub use segment_history::SegmentPeriod;
pub use spec::{
    Activity, DateRange, EventCatalogue, EventMatch, Filter, FilterOp, Period, Property, Window, WindowUnit, MAX_STEPS,
};
pub use spend::{parse_spend_csv, SpendImport, SpendRow};
