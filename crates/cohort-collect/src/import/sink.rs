//! The write side of one import: batches, rejected rows, the transaction.

use cohort_model::{Batch, Order};
use cohort_store::{ImportRecord, RejectedRow, WriteTxn};

use super::ImportError;

/// Rejected rows kept in the report (all are recorded in the store).
pub(crate) const FIRST_ERRORS: usize = 20;
/// Longest raw row kept with a rejection, in bytes.
const MAX_RAW: usize = 1024;

/// Collects records into batches of `batch_rows` and stages them in the
/// file's transaction; records rejected rows.
pub(crate) struct Sink<'s> {
    txn: Box<dyn WriteTxn + 's>,
    /// The batch being filled.
    pub batch: Batch,
    batch_rows: usize,
    file: String,
    strict: bool,
    /// Rows refused so far.
    pub rows_rejected: u64,
    /// The first [`FIRST_ERRORS`] refused rows.
    pub first_errors: Vec<RejectedRow>,
    /// Prices whose sub-fen digits were rounded.
    pub prices_rounded: u64,
}

impl<'s> Sink<'s> {
    pub(crate) fn new(txn: Box<dyn WriteTxn + 's>, file: String, batch_rows: usize, strict: bool) -> Self {
        Sink {
            txn,
            batch: Batch::default(),
            batch_rows: batch_rows.max(1),
            file,
            strict,
            rows_rejected: 0,
            first_errors: Vec::new(),
            prices_rounded: 0,
        }
    }

    /// The file name used in rejections.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// Stages the batch once it holds `batch_rows` records.
    pub(crate) fn flush_if_full(&mut self) -> Result<(), ImportError> {
        if self.batch.len() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Stages whatever the batch holds.
    pub(crate) fn flush(&mut self) -> Result<(), ImportError> {
        if !self.batch.is_empty() {
            self.txn.write(&self.batch)?;
            self.batch.clear();
        }
        Ok(())
    }

    /// Stages complete orders, counting each order line towards the batch
    /// size so a batch stays bounded however long the orders are.
    pub(crate) fn write_orders(&mut self, orders: impl IntoIterator<Item = Order>) -> Result<(), ImportError> {
        let mut lines = 0;
        for order in orders {
            lines += order.lines.len();
            self.batch.orders.push(order);
            if self.batch.len() + lines >= self.batch_rows {
                self.flush()?;
                lines = 0;
            }
        }
        self.flush()
    }

    /// Refuses a row: in strict mode the import stops with
    /// [`ImportError::BadRow`]; otherwise it is recorded and counted.
    pub(crate) fn reject(&mut self, line: u64, reason: String, raw: &str) -> Result<(), ImportError> {
        if self.strict {
            return Err(ImportError::BadRow { file: self.file.clone(), line, reason });
        }
        tracing::debug!(file = %self.file, line, %reason, "row rejected");
        let row = RejectedRow { file: self.file.clone(), line, reason, raw: truncate(raw, MAX_RAW).to_string() };
        self.rows_rejected += 1;
        if self.first_errors.len() < FIRST_ERRORS {
            self.first_errors.push(row.clone());
        }
        self.txn.reject(row)?;
        Ok(())
    }

    /// Stages the rest and commits the transaction.
    pub(crate) fn commit(mut self, rows_read: u64) -> Result<(ImportRecord, Stats), ImportError> {
        self.flush()?;
        let stats = Stats {
            rows_rejected: self.rows_rejected,
            first_errors: self.first_errors,
            prices_rounded: self.prices_rounded,
        };
        Ok((self.txn.commit(rows_read)?, stats))
    }
}

/// What the sink counted, handed to the report.
pub(crate) struct Stats {
    pub rows_rejected: u64,
    pub first_errors: Vec<RejectedRow>,
    pub prices_rounded: u64,
}

/// The longest prefix of `text` of at most `max` bytes, on a char boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("红色", 4), "红");
        assert_eq!(truncate(&"x".repeat(2000), MAX_RAW).len(), MAX_RAW);
    }
}
