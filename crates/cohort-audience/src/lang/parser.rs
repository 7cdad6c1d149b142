//! A hand-written recursive-descent parser. Precedence, loosest first:
//! `or`, `and`, `not`, comparisons (`= != < <= > >= in`), `+ -`, `* /`,
//! unary `-`. Names are resolved against the scope as they are read.

use super::ast::{AggFunc, ArithOp, CmpOp, Expr, Field, Source, Value, Window};
use super::lexer::Tok;
use super::{Pos, SyntaxError};

/// Segment and profile names readable without the `profile.` prefix.
const PROFILE_SHORTCUTS: &[&str] = &["value_tier", "lifecycle", "behaviour", "rfm_segment", "top_category"];

/// What names mean where the parser is.
#[derive(Debug, Clone, Copy)]
struct Scope {
    /// Inside `where` of this source: bare names are its fields.
    record: Option<Source>,
    /// Inside `each_month`: aggregates take the month as their window.
    in_month: bool,
}

pub(crate) struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
}

impl Parser {
    pub(crate) fn new(toks: Vec<(Tok, Pos)>) -> Self {
        Parser { toks, at: 0 }
    }

    pub(crate) fn parse_condition(mut self) -> Result<Expr, SyntaxError> {
        let expr = self.or(Scope { record: None, in_month: false })?;
        match self.peek() {
            Tok::Eof => Ok(expr),
            other => Err(self.error(format!("expected \"and\", \"or\" or the end, found {}", other.describe()))),
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn pos(&self) -> Pos {
        self.toks[self.at].1
    }

    fn next(&mut self) -> Tok {
        let tok = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        tok
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError { pos: self.pos(), message }
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == word)
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), SyntaxError> {
        if *self.peek() == want {
            self.next();
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.peek().describe())))
        }
    }

    fn or(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.and(scope)?];
        while self.is_word("or") {
            self.next();
            parts.push(self.and(scope)?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Expr::Or(parts) })
    }

    fn and(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.not(scope)?];
        while self.is_word("and") {
            self.next();
            parts.push(self.not(scope)?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Expr::And(parts) })
    }

    fn not(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        if self.is_word("not") {
            self.next();
            return Ok(Expr::Not(Box::new(self.not(scope)?)));
        }
        self.comparison(scope)
    }

    fn comparison(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        let left = self.additive(scope)?;
        if self.is_word("in") {
            self.next();
            return Ok(Expr::In(Box::new(left), self.list()?));
        }
        let op = match self.peek() {
            Tok::Op("=") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            _ => return Ok(left),
        };
        self.next();
        let right = self.additive(scope)?;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(right)))
    }

    fn list(&mut self) -> Result<Vec<Value>, SyntaxError> {
        self.expect(Tok::LBrack, "\"[\" starting a list of values")?;
        let mut values = Vec::new();
        loop {
            if *self.peek() == Tok::RBrack && values.is_empty() {
                break;
            }
            match self.literal() {
                Some(v) => values.push(v),
                None => {
                    return Err(self.error(format!("expected a value in the list, found {}", self.peek().describe())))
                }
            }
            if *self.peek() == Tok::Comma {
                self.next();
            } else {
                break;
            }
        }
        self.expect(Tok::RBrack, "\",\" or \"]\" in the list")?;
        Ok(values)
    }

    /// A literal value, consumed if present.
    fn literal(&mut self) -> Option<Value> {
        let v = match self.peek() {
            Tok::Str(s) => Value::Str(s.clone()),
            Tok::Num(n) => Value::Num(*n),
            Tok::Money(m) => Value::Money(*m),
            Tok::Ident(w) if w == "true" => Value::Bool(true),
            Tok::Ident(w) if w == "false" => Value::Bool(false),
            Tok::Ident(w) if w == "null" => Value::Null,
            _ => return None,
        };
        self.next();
        Some(v)
    }

    fn additive(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        let mut left = self.multiplicative(scope)?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => ArithOp::Add,
                Tok::Op("-") => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.next();
            left = Expr::Arith(Box::new(left), op, Box::new(self.multiplicative(scope)?));
        }
    }

    fn multiplicative(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        let mut left = self.unary(scope)?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => ArithOp::Mul,
                Tok::Op("/") => ArithOp::Div,
                _ => return Ok(left),
            };
            self.next();
            left = Expr::Arith(Box::new(left), op, Box::new(self.unary(scope)?));
        }
    }

    fn unary(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        if *self.peek() == Tok::Op("-") {
            self.next();
            let inner = self.unary(scope)?;
            return Ok(Expr::Arith(Box::new(Expr::Lit(Value::Num(0.0))), ArithOp::Sub, Box::new(inner)));
        }
        self.atom(scope)
    }

    fn atom(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        if let Some(v) = self.literal() {
            return Ok(Expr::Lit(v));
        }
        let pos = self.pos();
        match self.next() {
            Tok::LParen => {
                let inner = self.or(scope)?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(inner)
            }
            Tok::Ident(name) if *self.peek() == Tok::LParen => self.call(&name, pos, scope),
            Tok::Ident(name) => self.field(name, pos, scope),
            Tok::Duration { .. } => Err(SyntaxError {
                pos,
                message:
                    "a duration is only allowed as a window (`count(events, 30d)`) or a span (`then(orders, 24h)`)"
                        .into(),
            }),
            other => Err(SyntaxError { pos, message: format!("expected a value, found {}", other.describe()) }),
        }
    }

    fn field(&mut self, first: String, pos: Pos, scope: Scope) -> Result<Expr, SyntaxError> {
        let mut path = vec![first];
        while *self.peek() == Tok::Dot {
            self.next();
            match self.next() {
                Tok::Ident(part) => path.push(part),
                other => {
                    return Err(SyntaxError {
                        pos,
                        message: format!("expected a name after \".\", found {}", other.describe()),
                    })
                }
            }
        }
        let head = path[0].as_str();
        let rest = || path[1..].to_vec();
        let field = match (head, path.len()) {
            ("profile", n) if n > 1 => Field::Profile(rest()),
            ("user", n) if n > 1 => Field::User(rest()),
            ("prop" | "properties", 2) if scope.record.is_some() => Field::Prop(path[1].clone()),
            (name, 1) => match scope.record {
                Some(source) => match source.fields().iter().find(|f| **f == name) {
                    Some(f) => Field::Record(f),
                    None => {
                        return Err(SyntaxError {
                            pos,
                            message: format!(
                                "unknown field {name:?} of {} (fields: {}, prop.NAME, profile.…, user.…)",
                                source_name(source),
                                source.fields().join(", ")
                            ),
                        })
                    }
                },
                None if PROFILE_SHORTCUTS.contains(&name) => Field::Profile(vec![name.to_string()]),
                None => {
                    let hint = if Source::parse(name).is_some() {
                        format!("; count them with `count({name}, 30d)`")
                    } else {
                        String::new()
                    };
                    return Err(SyntaxError {
                        pos,
                        message: format!(
                            "unknown name {name:?} here (outside a `where` use profile.…, user.… or one of: {}){hint}",
                            PROFILE_SHORTCUTS.join(", ")
                        ),
                    });
                }
            },
            _ => return Err(SyntaxError { pos, message: format!("unknown field {:?}", path.join(".")) }),
        };
        Ok(Expr::Field(field))
    }

    fn call(&mut self, name: &str, pos: Pos, scope: Scope) -> Result<Expr, SyntaxError> {
        self.expect(Tok::LParen, "\"(\"")?;
        if let Some(func) = AggFunc::parse(name) {
            if scope.record.is_some() {
                return Err(SyntaxError {
                    pos, message: format!("{name}(…) cannot be used inside a `where` filter")
                });
            }
            let (source, field) = self.source_and_field(func.needs_field(), name)?;
            let filter = self.filter(source, scope)?;
            let mut window = None;
            if *self.peek() == Tok::Comma {
                self.next();
                let wpos = self.pos();
                if self.is_word("last") {
                    self.next();
                }
                window = Some(match self.next() {
                    Tok::Duration { days: Some(d), .. } => Window::Days(d),
                    Tok::Duration { secs, .. } => Window::Secs(secs),
                    other => {
                        return Err(SyntaxError {
                            pos: wpos,
                            message: format!("expected a window such as 30d or 24h, found {}", other.describe()),
                        })
                    }
                });
                if scope.in_month {
                    return Err(SyntaxError {
                        pos: wpos,
                        message: "inside each_month(…) the window is the month: drop the window".into(),
                    });
                }
            }
            self.expect(Tok::RParen, "\")\" closing the aggregate (or \"where\", \",\" and a window)")?;
            return Ok(Expr::Agg { func, source, field, filter: filter.map(Box::new), window });
        }
        match name {
            "each_month" => {
                if scope.record.is_some() || scope.in_month {
                    return Err(SyntaxError { pos, message: "each_month(…) cannot be nested in a filter or month".into() });
                }
                let npos = self.pos();
                let months = match self.next() {
                    Tok::Num(n) if n.fract() == 0.0 && (1.0..=120.0).contains(&n) => n as u32,
                    other => {
                        return Err(SyntaxError {
                            pos: npos,
                            message: format!("expected a number of months (1 to 120), found {}", other.describe()),
                        })
                    }
                };
                self.expect(Tok::Comma, "\",\" after the number of months")?;
                let body = self.or(Scope { record: None, in_month: true })?;
                self.expect(Tok::RParen, "\")\" closing each_month")?;
                Ok(Expr::EachMonth(months, Box::new(body)))
            }
            "then" | "then_no" => {
                if scope.record.is_none() {
                    return Err(SyntaxError {
                        pos,
                        message: format!("{name}(…) follows a record: use it inside `where`, as in count(events where name = \"Product Added\" and {name}(orders, 24h))"),
                    });
                }
                let (source, _) = self.source_and_field(false, name)?;
                let filter = self.filter(source, scope)?;
                self.expect(Tok::Comma, "\",\" and a span such as 24h")?;
                let spos = self.pos();
                let within_secs = match self.next() {
                    Tok::Duration { secs, .. } => secs,
                    other => {
                        return Err(SyntaxError {
                            pos: spos,
                            message: format!("expected a span such as 24h, found {}", other.describe()),
                        })
                    }
                };
                self.expect(Tok::RParen, &format!("\")\" closing {name}"))?;
                Ok(Expr::Then { negate: name == "then_no", source, filter: filter.map(Box::new), within_secs })
            }
            "tag" | "score" => {
                let tpos = self.pos();
                let what = if name == "tag" { "a tag name" } else { "a model name such as \"churn\"" };
                let arg = match self.next() {
                    Tok::Str(s) => s,
                    other => {
                        return Err(SyntaxError { pos: tpos, message: format!("expected {what} in quotes, found {}", other.describe()) })
                    }
                };
                self.expect(Tok::RParen, &format!("\")\" closing {name}"))?;
                Ok(if name == "tag" { Expr::Tag(arg) } else { Expr::Score(arg) })
            }
            other => Err(SyntaxError {
                pos,
                message: format!(
                    "unknown function {other:?} (count, sum, avg, min, max, distinct, share, each_month, then, then_no, tag, score)"
                ),
            }),
        }
    }

    /// `events` or `orders.total`.
    fn source_and_field(&mut self, needs_field: bool, func: &str) -> Result<(Source, Option<Field>), SyntaxError> {
        let pos = self.pos();
        let source = match self.next() {
            Tok::Ident(name) => Source::parse(&name).ok_or_else(|| SyntaxError {
                pos,
                message: format!("unknown source {name:?} (events, orders, refunds, lines)"),
            })?,
            other => {
                return Err(SyntaxError {
                    pos,
                    message: format!("expected a source (events, orders, refunds, lines), found {}", other.describe()),
                })
            }
        };
        if *self.peek() != Tok::Dot {
            if needs_field {
                return Err(SyntaxError {
                    pos,
                    message: format!(
                        "{func}(…) needs a field, as in {func}({}.{} …)",
                        source_name(source),
                        source.fields()[0]
                    ),
                });
            }
            return Ok((source, None));
        }
        self.next();
        let fpos = self.pos();
        let field = match self.field_after_source(source) {
            Some(f) => f,
            None => {
                return Err(SyntaxError {
                    pos: fpos,
                    message: format!(
                        "unknown field of {} (fields: {})",
                        source_name(source),
                        source.fields().join(", ")
                    ),
                })
            }
        };
        if !needs_field {
            return Err(SyntaxError { pos: fpos, message: format!("{func}(…) counts records: drop the field") });
        }
        Ok((source, Some(field)))
    }

    fn field_after_source(&mut self, source: Source) -> Option<Field> {
        let Tok::Ident(name) = self.next() else { return None };
        if name == "prop" && *self.peek() == Tok::Dot {
            self.next();
            return match self.next() {
                Tok::Ident(p) => Some(Field::Prop(p)),
                _ => None,
            };
        }
        source.fields().iter().find(|f| **f == name).map(|f| Field::Record(f))
    }

    fn filter(&mut self, source: Source, scope: Scope) -> Result<Option<Expr>, SyntaxError> {
        if !self.is_word("where") {
            return Ok(None);
        }
        self.next();
        Ok(Some(self.or(Scope { record: Some(source), in_month: scope.in_month })?))
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Events => "events",
        Source::Orders => "orders",
        Source::Refunds => "refunds",
        Source::Lines => "lines",
    }
}
