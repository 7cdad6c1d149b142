//! `write_csv` writes exactly the native format and reads back.

use std::path::Path;

use chrono::{DateTime, NaiveDate};
use cohort_model::{EventName, Money, Platform};

use super::*;
use crate::generate::{EVENT_COLUMNS, ORDER_COLUMNS, PRODUCT_COLUMNS, USER_COLUMNS};

/// The column lists of `docs/native-format.md`, by file name.
fn documented_columns(file: &str) -> Vec<String> {
    let doc = include_str!("../../../../../docs/native-format.md");
    let row = doc.lines().find(|l| l.starts_with(&format!("| `{file}`"))).expect("file documented");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    cells[3].trim_matches('`').split(',').map(str::to_string).collect()
}

fn read(dir: &Path, file: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(dir.join(file)).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    (header, reader.records().map(Result::unwrap).collect())
}

fn assert_money(cell: &str) {
    if cell.is_empty() {
        return;
    }
    let (_, decimals) = cell.split_once('.').unwrap_or_else(|| panic!("{cell:?} has no decimals"));
    assert_eq!(decimals.len(), 2, "{cell:?}");
    assert!(!Money::parse_yuan(cell).unwrap().1);
}

fn assert_time(cell: &str) {
    assert!(cell.ends_with('Z') && cell.len() == 20, "{cell:?}");
    DateTime::parse_from_rfc3339(cell).unwrap();
}

#[test]
fn generate_write_csv_writes_the_native_files_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let generator = Generator::new(GeneratorConfig { chunk_users: 100, ..config(300, 60, 5) }).unwrap();
    let mut progress = Vec::new();
    let summary = generator.write_csv(dir.path(), |done| progress.push(done)).unwrap();
    assert_eq!(progress, [100, 200, 300]);
    let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    files.sort();
    assert_eq!(files, ["events.csv", "orders.csv", "products.csv", "users.csv"]);

    let (header, events) = read(dir.path(), "events.csv");
    assert_eq!(header, documented_columns("events.csv"));
    assert_eq!(header, EVENT_COLUMNS);
    assert_eq!(events.len() as u64, summary.events);
    let (batch, _) = generate(GeneratorConfig { chunk_users: 100, ..config(300, 60, 5) });
    for (row, event) in events.iter().zip(&batch.events) {
        assert_eq!(&row[0], event.id.as_str());
        assert!(!matches!(EventName::parse(&row[4]), EventName::Custom(_)), "{}", &row[4]);
        assert_time(&row[5]);
        assert_eq!(DateTime::parse_from_rfc3339(&row[5]).unwrap(), event.timestamp);
        row[6].parse::<Platform>().unwrap();
        for money in [10, 13, 14] {
            assert_money(&row[money]);
        }
        assert_eq!(row[13].is_empty(), event.revenue.is_none());
        if !row[19].is_empty() {
            assert!(serde_json::from_str::<serde_json::Value>(&row[19]).unwrap().is_object());
        }
    }

    let (header, orders) = read(dir.path(), "orders.csv");
    assert_eq!(header, documented_columns("orders.csv"));
    assert_eq!(header, ORDER_COLUMNS);
    assert_eq!(orders.len() as u64, summary.order_lines);
    for row in &orders {
        assert!(matches!(&row[1], "purchase" | "refund"));
        assert_time(&row[5]);
        for money in [8, 9, 10, 16] {
            assert!(!row[money].is_empty());
            assert_money(&row[money]);
        }
        assert_eq!(row[1] == *"refund", !row[12].is_empty());
        row[13].parse::<u32>().unwrap();
        row[15].parse::<i64>().unwrap();
    }

    let (header, users) = read(dir.path(), "users.csv");
    assert_eq!(header, documented_columns("users.csv"));
    assert_eq!(header, USER_COLUMNS);
    assert_eq!(users.len(), 300);
    for row in &users {
        assert_time(&row[1]);
        NaiveDate::parse_from_str(&row[4], "%Y-%m-%d").unwrap();
        let traits: serde_json::Value = serde_json::from_str(&row[8]).unwrap();
        assert!(traits["persona"].is_string());
    }

    let (header, products) = read(dir.path(), "products.csv");
    assert_eq!(header, documented_columns("products.csv"));
    assert_eq!(header, PRODUCT_COLUMNS);
    assert_eq!(products.len() as u64, summary.products);
    for row in &products {
        assert_money(&row[3]);
        assert_time(&row[5]);
        assert!(matches!(&row[6], "true" | "false") && matches!(&row[7], "true" | "false"));
    }

    // The bytes do not depend on chunking or threads.
    let again = tempfile::tempdir().unwrap();
    let generator = Generator::new(GeneratorConfig { chunk_users: 37, ..config(300, 60, 5) }).unwrap().with_threads(2);
    generator.write_csv(again.path(), |_| {}).unwrap();
    for file in ["events.csv", "orders.csv", "users.csv", "products.csv"] {
        let a = std::fs::read(dir.path().join(file)).unwrap();
        let b = std::fs::read(again.path().join(file)).unwrap();
        assert!(a == b, "{file} differs");
    }
}

#[test]
fn generate_write_csv_reports_an_unwritable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let generator = Generator::new(config(2, 2, 1)).unwrap();
    let err = generator.write_csv(&file, |_| {}).unwrap_err();
    assert!(!err.is_user_error());
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
