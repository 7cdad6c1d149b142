//! DuckDB store (in progress).
