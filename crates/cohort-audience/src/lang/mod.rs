//! The condition language of tag rules and audience filters.
//!
//! ```text
//! count(events where name = "Product Viewed" and category = "母婴", 30d) > 5
//! each_month(3, count(lines where category = "宠物食品") >= 1)
//! share(orders where discounted) >= 0.6
//! count(events where name = "Product Added" and then_no(orders, 24h), 7d) >= 1
//! value_tier = "high_value" and user.city in ["上海", "杭州"] and tag("new_parent")
//! ```
//!
//! See `docs/audiences.md` for the whole language. The lexer and parser are
//! hand-written so every error carries the line and column it was found at.

pub mod ast;
mod lexer;
mod parser;

use std::fmt;

pub use ast::{AggFunc, ArithOp, CmpOp, Expr, Field, Source, Value, Window};

/// A 1-based line and column (in characters) inside a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, counted in characters.
    pub col: u32,
}

/// What is wrong with a condition, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.pos.line, self.pos.col, self.message)
    }
}

/// Parses a condition.
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    parser::Parser::new(lexer::lex(text)?).parse_condition()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (u32, u32, String) {
        let e = parse(text).unwrap_err();
        (e.pos.line, e.pos.col, e.message)
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let (l, c, m) = err("count(events where nmae = \"x\", 30d) > 5");
        assert_eq!((l, c), (1, 20));
        assert!(m.contains("unknown field \"nmae\" of events"), "{m}");

        let (l, c, m) = err("count(events, 30d) > 5\nand share(orders where discounted >= 0.6");
        assert_eq!((l, c), (2, 41));
        assert!(m.contains("expected \")\""), "{m}");

        let (l, c, m) = err("value_tier = \"high_value\" or\n  citty = \"上海\"");
        assert_eq!((l, c), (2, 3));
        assert!(m.contains("unknown name \"citty\""), "{m}");

        let (l, c, m) = err("each_month(3, count(orders, 30d) >= 1)");
        assert_eq!((l, c), (1, 29));
        assert!(m.contains("window is the month"), "{m}");

        let (l, c, _) = err("count(events where then(orders, 24h)) > 1 and then(orders, 1h)");
        assert_eq!((l, c), (1, 47));
        assert_eq!(err("sum(orders) > 1").2, "sum(…) needs a field, as in sum(orders.platform …)");
        assert_eq!(err("count(events) > 5 5").1, 19);
        assert!(err("count(events, 5) > 1").2.contains("expected a window"));
    }

    #[test]
    fn precedence_and_names_resolve() {
        let e = parse("not a_b = 1 or value_tier = \"x\" and profile.orders.d30 > 2").err();
        assert!(e.is_some(), "a bare unknown name is refused");
        let e = parse("not lifecycle = \"churned\" or value_tier = \"high_value\" and profile.orders.d30 > 2").unwrap();
        let Expr::Or(parts) = e else { panic!("or at the top: {e:?}") };
        assert!(matches!(parts[0], Expr::Not(_)));
        assert!(matches!(&parts[1], Expr::And(v) if v.len() == 2));
        let e = parse("sum(orders.total where platform in [\"app\", \"mini_program\"], last 90d) >= ¥500").unwrap();
        let Expr::Cmp(left, CmpOp::Ge, right) = e else { panic!() };
        assert!(matches!(
            *left,
            Expr::Agg { func: AggFunc::Sum, source: Source::Orders, window: Some(Window::Days(90)), .. }
        ));
        assert_eq!(*right, Expr::Lit(Value::Money(cohort_model::Money::from_yuan(500))));
    }
}
