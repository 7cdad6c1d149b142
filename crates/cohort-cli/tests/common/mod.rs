//! The real `cohort` binary, run against a store directory with the
//! developer's own `COHORT_*` settings removed.

#![allow(dead_code)] // each test crate uses a different part

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cohort --store STORE --quiet ARGS…`.
pub fn cohort(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--store")
        .arg(store)
        .arg("--quiet")
        .args(args)
        .env_remove("COHORT_CONFIG")
        .env_remove("COHORT_TIME_ZONE")
        .env_remove("COHORT_LOYALTY_URL")
        .output()
        .expect("cohort runs")
}

/// Runs `cohort` and returns its standard output; fails the test on a
/// non-zero exit, showing standard error.
pub fn ok(store: &Path, args: &[&str]) -> String {
    let out = cohort(store, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "cohort {args:?} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}
