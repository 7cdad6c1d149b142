//! The parsed form of a condition. Names are resolved while parsing, so an
//! evaluated tree never meets an unknown field.

use cohort_model::Money;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing (an absent field, a share of nothing).
    Null,
    /// True or false.
    Bool(bool),
    /// A number (counts, ratios, ratings, quantities).
    Num(f64),
    /// An amount of money; compared with a plain number, the number is read
    /// as yuan.
    Money(Money),
    /// Text.
    Str(String),
}

impl Value {
    /// Truthiness: only `true` is true.
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}

/// Where an aggregate reads its records from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Behaviour events.
    Events,
    /// Paid orders (refunds excluded).
    Orders,
    /// Refunds.
    Refunds,
    /// Lines of paid orders, at their order's instant.
    Lines,
}

impl Source {
    pub(crate) fn parse(name: &str) -> Option<Source> {
        match name {
            "events" => Some(Source::Events),
            "orders" => Some(Source::Orders),
            "refunds" => Some(Source::Refunds),
            "lines" => Some(Source::Lines),
            _ => None,
        }
    }

    /// Field names a record of this source has (besides `prop.…`).
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Source::Events => &[
                "name", "category", "product", "platform", "channel", "price", "quantity", "revenue", "discount",
                "coupon", "query", "rating", "review", "order",
            ],
            Source::Orders | Source::Refunds => {
                &["platform", "channel", "total", "discount", "shipping", "coupon", "discounted", "lines", "order"]
            }
            Source::Lines => {
                &["category", "product", "quantity", "unit_price", "amount", "platform", "channel", "coupon", "order"]
            }
        }
    }
}

/// An aggregate over a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// Records matching.
    Count,
    /// Sum of a field.
    Sum,
    /// Mean of a field (null over no records).
    Avg,
    /// Smallest value of a field.
    Min,
    /// Largest value of a field.
    Max,
    /// Distinct values of a field.
    Distinct,
    /// Matching records ÷ all records in the window (null over none).
    Share,
}

impl AggFunc {
    pub(crate) fn parse(name: &str) -> Option<AggFunc> {
        match name {
            "count" => Some(AggFunc::Count),
            "sum" => Some(AggFunc::Sum),
            "avg" => Some(AggFunc::Avg),
            "min" => Some(AggFunc::Min),
            "max" => Some(AggFunc::Max),
            "distinct" => Some(AggFunc::Distinct),
            "share" => Some(AggFunc::Share),
            _ => None,
        }
    }

    pub(crate) fn needs_field(self) -> bool {
        !matches!(self, AggFunc::Count | AggFunc::Share)
    }
}

/// A rolling window ending at the evaluation instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// At most this many shop-local calendar days before the instant (the
    /// reading of every "within N days" in Cohort).
    Days(i64),
    /// Strictly less than this many seconds before the instant.
    Secs(i64),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A field reference, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A field of the record being filtered (`category`, `platform`…).
    Record(&'static str),
    /// A free-form property of the record (`prop.has_images`).
    Prop(String),
    /// A path into the person's stored profile (`profile.orders.d30`,
    /// `value_tier`).
    Profile(Vec<String>),
    /// A path into the registered user's attributes (`user.city`,
    /// `user.traits.vip`).
    User(Vec<String>),
}

/// A condition or value expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal.
    Lit(Value),
    /// A field.
    Field(Field),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and …`
    And(Vec<Expr>),
    /// `a or b or …`
    Or(Vec<Expr>),
    /// `a op b`
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// `a in [v, …]`
    In(Box<Expr>, Vec<Value>),
    /// `a op b` arithmetic.
    Arith(Box<Expr>, ArithOp, Box<Expr>),
    /// `count(events where … , 30d)` and the other aggregates.
    Agg {
        /// Which aggregate.
        func: AggFunc,
        /// Records of which source.
        source: Source,
        /// The field aggregated (sum, avg, min, max, distinct).
        field: Option<Field>,
        /// The records kept.
        filter: Option<Box<Expr>>,
        /// The window; none = all history (or the month inside `each_month`).
        window: Option<Window>,
    },
    /// `each_month(N, cond)`: `cond` holds in each of the N complete
    /// shop-local calendar months before the evaluation instant's month,
    /// aggregates inside it reading only that month.
    EachMonth(u32, Box<Expr>),
    /// `then(source where …, 24h)` / `then_no(…)` inside a filter: a
    /// matching record follows this one within the span (or, for
    /// `then_no`, the span has passed with none).
    Then {
        /// `then_no`.
        negate: bool,
        /// Records of which source.
        source: Source,
        /// Which ones count.
        filter: Option<Box<Expr>>,
        /// The span, in seconds.
        within_secs: i64,
    },
    /// `tag("name")`: the person has the tag now (audiences only).
    Tag(String),
    /// `score("churn")`: the person's stored score of a prediction model
    /// (`person_scores`: churn risk 0–100, CLV in fen, sentiment…), null
    /// where none (audiences only).
    Score(String),
}

impl Expr {
    /// Tags the expression reads through `tag(…)`.
    pub fn tags_used(&self, out: &mut Vec<String>) {
        self.visit(&mut |e| {
            if let Expr::Tag(t) = e {
                out.push(t.clone())
            }
        });
    }

    /// Models the expression reads through `score(…)`.
    pub fn models_used(&self, out: &mut Vec<String>) {
        self.visit(&mut |e| {
            if let Expr::Score(m) = e {
                out.push(m.clone())
            }
        });
    }

    /// Calls `f` on this expression and every expression inside it.
    fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Not(e) | Expr::EachMonth(_, e) | Expr::In(e, _) => e.visit(f),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.visit(f)),
            Expr::Cmp(a, _, b) | Expr::Arith(a, _, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Agg { filter, .. } | Expr::Then { filter, .. } => {
                if let Some(e) = filter {
                    e.visit(f)
                }
            }
            Expr::Lit(_) | Expr::Field(_) | Expr::Tag(_) | Expr::Score(_) => {}
        }
    }
}
