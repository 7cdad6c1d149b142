//! Tokens of the rule language, each with its line and column.

use cohort_model::Money;

use super::{Pos, SyntaxError};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Money(Money),
    /// A span of time: `30d`, `24h`, `15m`; seconds.
    Duration {
        secs: i64,
        days: Option<i64>,
    },
    Op(&'static str),
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Dot,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Money(m) => format!("the amount ¥{}", m.yuan_f64()),
            Tok::Duration { secs, .. } => format!("a duration of {secs} s"),
            Tok::Op(op) => format!("{op:?}"),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBrack => "\"[\"".into(),
            Tok::RBrack => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Dot => "\".\"".into(),
            Tok::Eof => "the end of the condition".into(),
        }
    }
}

/// Splits a condition into tokens (the last one is [`Tok::Eof`]).
pub(crate) fn lex(text: &str) -> Result<Vec<(Tok, Pos)>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    let err = |pos: Pos, message: String| SyntaxError { pos, message };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        let start = i;
        let tok = match c {
            '\n' => {
                i += 1;
                line += 1;
                col = 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                col += 1;
                continue;
            }
            '#' => {
                // A comment runs to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '(' => single(&mut i, Tok::LParen),
            ')' => single(&mut i, Tok::RParen),
            '[' => single(&mut i, Tok::LBrack),
            ']' => single(&mut i, Tok::RBrack),
            ',' => single(&mut i, Tok::Comma),
            '.' => single(&mut i, Tok::Dot),
            '+' => single(&mut i, Tok::Op("+")),
            '-' => single(&mut i, Tok::Op("-")),
            '*' => single(&mut i, Tok::Op("*")),
            '/' => single(&mut i, Tok::Op("/")),
            '=' => {
                // `==` reads as `=`.
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
                Tok::Op("=")
            }
            '!' | '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                i += if eq { 2 } else { 1 };
                match (c, eq) {
                    ('!', true) => Tok::Op("!="),
                    ('<', true) => Tok::Op("<="),
                    ('>', true) => Tok::Op(">="),
                    ('<', false) => Tok::Op("<"),
                    ('>', false) => Tok::Op(">"),
                    _ => return Err(err(pos, "\"!\" must be followed by \"=\" (use `not` to negate)".into())),
                }
            }
            '"' | '\'' => {
                let quote = c;
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None | Some('\n') => return Err(err(pos, "unterminated string".into())),
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some('\\') if chars.get(i + 1).is_some_and(|&n| n == quote || n == '\\') => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            '¥' | '￥' => {
                i += 1;
                let digits = take_while(&chars, &mut i, |c| c.is_ascii_digit() || c == '.');
                if digits.is_empty() {
                    return Err(err(pos, "expected an amount after \"¥\" (as in ¥500 or ¥12.50)".into()));
                }
                let (money, rounded) = Money::parse_yuan(&digits).map_err(|e| err(pos, e.to_string()))?;
                if rounded {
                    return Err(err(pos, format!("the amount ¥{digits} has more than two decimals")));
                }
                Tok::Money(money)
            }
            c if c.is_ascii_digit() => {
                let digits = take_while(&chars, &mut i, |c| c.is_ascii_digit() || c == '.');
                let n: f64 = digits.parse().map_err(|_| err(pos, format!("invalid number {digits:?}")))?;
                let unit = take_while(&chars, &mut i, |c| c.is_alphabetic());
                match unit.as_str() {
                    "" => Tok::Num(n),
                    "d" | "h" | "m" if n.fract() == 0.0 => {
                        let n = n as i64;
                        match unit.as_str() {
                            "d" => Tok::Duration { secs: n * 86_400, days: Some(n) },
                            "h" => Tok::Duration { secs: n * 3600, days: None },
                            _ => Tok::Duration { secs: n * 60, days: None },
                        }
                    }
                    "d" | "h" | "m" => return Err(err(pos, format!("a duration must be whole: {digits}{unit}"))),
                    other => {
                        return Err(err(
                            pos,
                            format!("unknown unit {other:?} after {digits} (durations use d, h or m: 30d, 24h)"),
                        ))
                    }
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                Tok::Ident(take_while(&chars, &mut i, |c| c.is_alphanumeric() || c == '_'))
            }
            other => return Err(err(pos, format!("unexpected character {other:?}"))),
        };
        col += (i - start) as u32;
        out.push((tok, pos));
    }
    out.push((Tok::Eof, Pos { line, col }));
    Ok(out)
}

fn single(i: &mut usize, tok: Tok) -> Tok {
    *i += 1;
    tok
}

fn take_while(chars: &[char], i: &mut usize, keep: impl Fn(char) -> bool) -> String {
    let start = *i;
    while *i < chars.len() && keep(chars[*i]) {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_line_and_column() {
        let toks = lex("count(events, 30d) >= 5\n  and ¥12.50 != 'a\\'b'").unwrap();
        let kinds: Vec<&Tok> = toks.iter().map(|(t, _)| t).collect();
        assert_eq!(kinds[0], &Tok::Ident("count".into()));
        assert_eq!(kinds[4], &Tok::Duration { secs: 30 * 86_400, days: Some(30) });
        assert_eq!(kinds[6], &Tok::Op(">="));
        assert_eq!(toks[8].1, Pos { line: 2, col: 3 });
        assert_eq!(kinds[9], &Tok::Money(Money::from_fen(1250)));
        assert_eq!(toks[9].1, Pos { line: 2, col: 7 });
        assert_eq!(kinds[11], &Tok::Str("a'b".into()));
        assert_eq!(lex("x = \"open").unwrap_err().pos, Pos { line: 1, col: 5 });
        assert!(lex("3w").unwrap_err().message.contains("unknown unit \"w\""));
    }
}
