//! Synthetic shop generator (in progress).
