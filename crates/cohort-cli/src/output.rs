//! Plain aligned text tables and number formatting for terminal output.

use std::fmt::Write as _;

/// Renders rows under a header, columns padded to the widest cell (counting
/// Chinese characters as two columns wide).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().map(|c| if u32::from(c) >= 0x2E80 { 2 } else { 1 }).sum::<usize>();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - width(cell);
            // numbers right-aligned, text left-aligned
            if i > 0 && cell.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '¥' || c == '-') {
                let _ = write!(out, "{}{}  ", " ".repeat(pad), cell);
            } else {
                let _ = write!(out, "{}{}  ", cell, " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(header.to_vec());
    line(widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `12345678` → `12,345,678`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// Masks the middle of a phone number: `13800138000` → `138****8000`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let keep_tail = 4;
    let keep_head = 3;
    chars[..keep_head].iter().collect::<String>()
        + &"*".repeat(chars.len() - keep_head - keep_tail)
        + &chars[chars.len() - keep_tail..].iter().collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(541_909), "541,909");
        assert_eq!(thousands(7), "7");
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("12345"), "*****");
        let t = table(&["tier", "people"], &[vec!["高价值".into(), "12".into()]]);
        assert!(t.lines().nth(2).unwrap().ends_with("12"));
    }
}
