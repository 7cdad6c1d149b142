//! Bulk importers (in progress).
