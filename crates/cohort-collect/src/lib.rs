//! Getting data into Cohort.
//!
//! Bulk importers read files into [`cohort_model::Batch`]es and write them
//! through one atomic [`cohort_store::WriteTxn`] per file, so an interrupted
//! import leaves either the whole file or nothing. The synthetic shop
//! generator produces the same batches from a seed.
//!
//! The HTTP collector's engine half lives here too: [`segment`] decodes and
//! validates Segment messages into the same records (through the same field
//! mapping as NDJSON imports) and [`identity`] stitches anonymous and user
//! ids into persons.

pub mod generate;
pub mod identity;
pub mod import;
pub mod segment;
