//! The analytics engine on real DuckDB stores: hand-built fixtures for every
//! funnel mode, window boundary, exclusion and breakdown, retention grids
//! cell by cell, the KPI board and paths; an independent plain-Rust
//! implementation agreeing on a generated shop; real-data figures.

// The independent implementations are deliberately plain index loops.
#![allow(clippy::needless_range_loop)]

mod board;
mod board_history;
mod fixtures;
mod funnel;
mod generated;
mod lifecycle;
mod real_data;
mod retention;
