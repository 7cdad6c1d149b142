//! Marketing spend per shop-local day and acquisition channel, the
//! numerator of CAC: a small CSV `date,channel,spend_fen` read here and
//! stored in `marketing_spend` by [`crate::Analytics::import_spend`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Issues, Result};

/// One day's spend on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRow {
    /// Shop-local day.
    pub day: NaiveDate,
    /// The acquisition channel, as orders carry it (`context.campaign.source`).
    pub channel: String,
    /// Spend in fen, not negative.
    pub spend_fen: i64,
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendImport {
    /// Rows stored (a day and channel already stored is replaced).
    pub rows: u64,
    /// Distinct channels.
    pub channels: u64,
    /// Total spend of the file, fen.
    pub spend_fen: i64,
    /// First day.
    pub first_day: Option<NaiveDate>,
    /// Last day.
    pub last_day: Option<NaiveDate>,
}

/// Reads `date,channel,spend_fen` (a header row with those names, in any
/// order; dates `YYYY-MM-DD`). Every bad row is reported, named
/// `line N.column`; nothing is returned unless the whole file is good.
pub fn parse_spend_csv(text: &str) -> Result<Vec<SpendRow>> {
    let mut issues = Issues::default();
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        issues.push("line 1", "empty file: expected the header date,channel,spend_fen");
        issues.finish()?;
        return Ok(Vec::new());
    };
    let names: Vec<String> =
        header.split(',').map(|c| c.trim().trim_start_matches('\u{feff}').to_lowercase()).collect();
    let column = |name: &str| names.iter().position(|n| n == name);
    let (Some(di), Some(ci), Some(si)) = (column("date"), column("channel"), column("spend_fen")) else {
        issues.push("line 1", format!("header must name date, channel and spend_fen, got {header:?}"));
        issues.finish()?;
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |k: usize| cells.get(k).copied().unwrap_or("");
        let day = NaiveDate::parse_from_str(cell(di), "%Y-%m-%d")
            .map_err(|_| issues.push(format!("line {n}.date"), format!("not a YYYY-MM-DD date: {:?}", cell(di))))
            .ok();
        let channel = cell(ci).to_string();
        if channel.is_empty() {
            issues.push(format!("line {n}.channel"), "empty channel");
        }
        let spend = match cell(si).parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            Ok(v) => {
                issues.push(format!("line {n}.spend_fen"), format!("must not be negative, got {v}"));
                None
            }
            Err(_) => {
                issues.push(format!("line {n}.spend_fen"), format!("not an integer number of fen: {:?}", cell(si)));
                None
            }
        };
        if let (Some(day), Some(spend_fen), false) = (day, spend, channel.is_empty()) {
            rows.push(SpendRow { day, channel, spend_fen });
        }
    }
    issues.finish()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_and_every_bad_cell_is_named() {
        let rows =
            parse_spend_csv("channel,date,spend_fen\ndouyin,2025-03-01,120000\n\nwechat,2025-03-01,0\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            SpendRow { day: "2025-03-01".parse().unwrap(), channel: "douyin".into(), spend_fen: 120000 }
        );
        let err = parse_spend_csv("date,channel,spend_fen\n2025-13-01,douyin,1\n2025-03-01,,-5\n").unwrap_err();
        let fields: Vec<&str> = err.issues().iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["line 2.date", "line 3.channel", "line 3.spend_fen"]);
        assert!(parse_spend_csv("day,cost\n").is_err());
    }
}
