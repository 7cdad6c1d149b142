//! Getting data into Cohort.
//!
//! Bulk importers read files into [`cohort_model::Batch`]es and write them
//! through one atomic [`cohort_store::WriteTxn`] per file, so an interrupted
//! import leaves either the whole file or nothing. The synthetic shop
//! generator produces the same batches from a seed.

pub mod generate;
pub mod import;
