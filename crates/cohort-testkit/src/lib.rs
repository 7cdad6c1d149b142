//! Test helpers shared by Cohort's crates (dev-dependency only).
//!
//! Real-data tests find the public datasets through one setting,
//! `COHORT_DATA_DIR` (default: `../shared/data` beside the workspace). Where
//! the data is missing they fail under `CI=true` and skip with a printed
//! notice elsewhere.

use std::path::PathBuf;

/// The dataset directory named by `COHORT_DATA_DIR`, or the default beside
/// the workspace.
pub fn data_root() -> PathBuf {
    match std::env::var_os("COHORT_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// The path of `relative` inside the data root, or `None` (after printing a
/// notice) when it is missing outside CI.
///
/// # Panics
/// When the file is missing and `CI=true`: CI must never skip real-data tests.
pub fn dataset(relative: &str) -> Option<PathBuf> {
    let path = data_root().join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("dataset {} is missing under CI=true (set COHORT_DATA_DIR)", path.display());
    }
    eprintln!("notice: skipping real-data test, {} not found (set COHORT_DATA_DIR)", path.display());
    None
}

/// Online Retail (UCI), the full 541,909-line file.
pub const ONLINE_RETAIL: &str = "uci_online_retail/online_retail.csv.gz";
/// Taobao UserBehavior prefix, 84,475 events.
pub const TAOBAO: &str = "taobao_userbehavior/UserBehavior_prefix.csv.gz";
/// arules Groceries, 9,835 baskets, one per line.
pub const GROCERIES: &str = "groceries_arules/groceries.csv.gz";
