//! The one evaluator: a condition over one person's history, stored profile
//! and current tags, at one instant. Batch recompute, incremental updates,
//! dry runs and audiences all call [`Subject::eval`], so they cannot
//! disagree about who matches.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use cohort_model::{Event, Money, Order, OrderKind, OrderLine, Profile, ShopTime};
use cohort_store::PersonHistory;

use crate::lang::{AggFunc, ArithOp, CmpOp, Expr, Field, Source, Value, Window};

/// Profile fields holding money (stored as fen numbers in the profile).
const PROFILE_MONEY: &[&str] = &["monetary", "value_monetary", "aov", "refunded"];

/// Everything a condition may read about one person.
pub struct Subject<'a> {
    history: &'a PersonHistory,
    profile: Option<&'a Profile>,
    tags: Option<&'a BTreeSet<String>>,
    scores: Option<&'a BTreeMap<String, f64>>,
    as_of: DateTime<Utc>,
    shop: ShopTime,
    profile_json: OnceCell<serde_json::Value>,
    user_json: OnceCell<serde_json::Value>,
}

/// One record being filtered.
#[derive(Clone, Copy)]
enum Rec<'a> {
    Event(&'a Event),
    Order(&'a Order),
    Line(&'a Order, &'a OrderLine),
}

impl Rec<'_> {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Rec::Event(e) => e.timestamp,
            Rec::Order(o) | Rec::Line(o, _) => o.placed_at,
        }
    }
}

/// Where evaluation is: the month of `each_month`, the record of a filter.
#[derive(Clone, Copy, Default)]
struct Env<'a> {
    month: Option<(DateTime<Utc>, DateTime<Utc>)>,
    record: Option<Rec<'a>>,
}

impl<'a> Subject<'a> {
    /// A person at `as_of`; `profile` is the stored one (segments come from
    /// the last `cohort compute`), `tags` the current tags (read by
    /// `tag(…)` in audience filters).
    pub fn new(
        history: &'a PersonHistory,
        profile: Option<&'a Profile>,
        tags: Option<&'a BTreeSet<String>>,
        as_of: DateTime<Utc>,
        shop: ShopTime,
    ) -> Self {
        Subject {
            history,
            profile,
            tags,
            scores: None,
            as_of,
            shop,
            profile_json: OnceCell::new(),
            user_json: OnceCell::new(),
        }
    }

    /// The person's stored model scores by model, read by `score(…)` in
    /// audience filters.
    pub fn with_scores(mut self, scores: &'a BTreeMap<String, f64>) -> Self {
        self.scores = Some(scores);
        self
    }

    /// Whether the condition holds.
    pub fn matches(&self, expr: &Expr) -> bool {
        self.eval(expr).is_true()
    }

    /// The value of an expression.
    pub fn eval(&self, expr: &Expr) -> Value {
        self.value(expr, Env::default())
    }

    fn value(&self, expr: &Expr, env: Env<'a>) -> Value {
        match expr {
            Expr::Lit(v) => v.clone(),
            Expr::Field(f) => self.field(f, env.record),
            Expr::Not(e) => Value::Bool(!self.value(e, env).is_true()),
            Expr::And(parts) => Value::Bool(parts.iter().all(|e| self.value(e, env).is_true())),
            Expr::Or(parts) => Value::Bool(parts.iter().any(|e| self.value(e, env).is_true())),
            Expr::Cmp(a, op, b) => Value::Bool(compare(&self.value(a, env), *op, &self.value(b, env))),
            Expr::In(a, list) => {
                let v = self.value(a, env);
                Value::Bool(list.iter().any(|item| compare(&v, CmpOp::Eq, item)))
            }
            Expr::Arith(a, op, b) => arith(self.value(a, env), *op, self.value(b, env)),
            Expr::Agg { func, source, field, filter, window } => {
                self.aggregate(*func, *source, field.as_ref(), filter.as_deref(), *window, env)
            }
            Expr::EachMonth(n, body) => Value::Bool(
                self.months(*n)
                    .iter()
                    .all(|&month| self.value(body, Env { month: Some(month), record: None }).is_true()),
            ),
            Expr::Then { negate, source, filter, within_secs } => {
                let Some(rec) = env.record else { return Value::Null };
                let start = rec.at();
                let end = start + chrono::Duration::seconds(*within_secs);
                let mut found = false;
                self.records(*source, &mut |r| {
                    let t = r.at();
                    if !found
                        && t > start
                        && t <= end
                        && t <= self.as_of
                        && filter.as_deref().is_none_or(|f| self.value(f, Env { record: Some(r), ..env }).is_true())
                    {
                        found = true;
                    }
                });
                Value::Bool(if *negate { !found && end <= self.as_of } else { found })
            }
            Expr::Tag(t) => Value::Bool(self.tags.is_some_and(|tags| tags.contains(t))),
            Expr::Score(model) => self.scores.and_then(|s| s.get(model)).map_or(Value::Null, |&v| Value::Num(v)),
        }
    }

    /// The N complete shop-local months before `as_of`'s month, oldest
    /// first, as `[start, end)` instants.
    fn months(&self, n: u32) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let today = self.shop.date(self.as_of);
        let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("first of month");
        (1..=n)
            .rev()
            .filter_map(|k| {
                let start = this_month.checked_sub_months(Months::new(k))?;
                let end = start.checked_add_months(Months::new(1))?;
                Some((self.shop.start_of_day(start), self.shop.start_of_day(end)))
            })
            .collect()
    }

    fn in_window(&self, at: DateTime<Utc>, window: Option<Window>, env: Env<'_>) -> bool {
        if at > self.as_of {
            return false;
        }
        if let Some((start, end)) = env.month {
            return at >= start && at < end;
        }
        match window {
            None => true,
            Some(Window::Days(d)) => self.shop.days_between(at, self.as_of) <= d,
            Some(Window::Secs(s)) => (self.as_of - at).num_seconds() < s,
        }
    }

    fn records(&self, source: Source, visit: &mut dyn FnMut(Rec<'a>)) {
        let h = self.history;
        match source {
            Source::Events => h.events.iter().for_each(|e| visit(Rec::Event(e))),
            Source::Orders => {
                h.orders.iter().filter(|o| o.kind == OrderKind::Purchase).for_each(|o| visit(Rec::Order(o)))
            }
            Source::Refunds => {
                h.orders.iter().filter(|o| o.kind == OrderKind::Refund).for_each(|o| visit(Rec::Order(o)))
            }
            Source::Lines => h
                .orders
                .iter()
                .filter(|o| o.kind == OrderKind::Purchase)
                .for_each(|o| o.lines.iter().for_each(|l| visit(Rec::Line(o, l)))),
        }
    }

    fn aggregate(
        &self,
        func: AggFunc,
        source: Source,
        field: Option<&Field>,
        filter: Option<&Expr>,
        window: Option<Window>,
        env: Env<'a>,
    ) -> Value {
        let (mut total, mut matched) = (0u64, 0u64);
        let mut values: Vec<Value> = Vec::new();
        self.records(source, &mut |r| {
            if !self.in_window(r.at(), window, env) {
                return;
            }
            total += 1;
            let inner = Env { record: Some(r), ..env };
            if filter.is_some_and(|f| !self.value(f, inner).is_true()) {
                return;
            }
            matched += 1;
            if let Some(f) = field {
                let v = self.field(f, Some(r));
                if v != Value::Null {
                    values.push(v);
                }
            }
        });
        match func {
            AggFunc::Count => Value::Num(matched as f64),
            AggFunc::Share if total == 0 => Value::Null,
            AggFunc::Share => Value::Num(matched as f64 / total as f64),
            AggFunc::Sum => values.into_iter().fold(Value::Num(0.0), |acc, v| arith(acc, ArithOp::Add, v)),
            AggFunc::Avg if values.is_empty() => Value::Null,
            AggFunc::Avg => {
                let n = values.len() as f64;
                let sum = values.into_iter().fold(Value::Num(0.0), |acc, v| arith(acc, ArithOp::Add, v));
                arith(sum, ArithOp::Div, Value::Num(n))
            }
            AggFunc::Min | AggFunc::Max => {
                let want = if func == AggFunc::Min { CmpOp::Lt } else { CmpOp::Gt };
                values
                    .into_iter()
                    .reduce(|best, v| if compare(&v, want, &best) { v } else { best })
                    .unwrap_or(Value::Null)
            }
            AggFunc::Distinct => {
                let set: HashSet<String> = values.iter().map(|v| format!("{v:?}")).collect();
                Value::Num(set.len() as f64)
            }
        }
    }

    fn field(&self, field: &Field, record: Option<Rec<'_>>) -> Value {
        match field {
            Field::Record(name) => record.map_or(Value::Null, |r| record_field(r, name)),
            Field::Prop(name) => {
                let props = match record {
                    Some(Rec::Event(e)) => &e.properties,
                    Some(Rec::Order(o) | Rec::Line(o, _)) => &o.properties,
                    None => return Value::Null,
                };
                props.get(name).map_or(Value::Null, json_value)
            }
            Field::Profile(path) => {
                let Some(profile) = self.profile else { return Value::Null };
                let doc = self.profile_json.get_or_init(|| serde_json::to_value(profile).unwrap_or_default());
                let v = walk(doc, path);
                match (v, PROFILE_MONEY.contains(&path[0].as_str())) {
                    (Value::Num(fen), true) => Value::Money(Money::from_fen(fen as i64)),
                    (v, _) => v,
                }
            }
            Field::User(path) => {
                let Some(user) = &self.history.user else { return Value::Null };
                let doc = self.user_json.get_or_init(|| serde_json::to_value(user).unwrap_or_default());
                walk(doc, path)
            }
        }
    }
}

fn walk(doc: &serde_json::Value, path: &[String]) -> Value {
    let mut at = doc;
    for part in path {
        match at.get(part) {
            Some(next) => at = next,
            None => return Value::Null,
        }
    }
    json_value(at)
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        // Lists and objects are not comparable values.
        _ => Value::Null,
    }
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Str(s.to_string()))
}

fn opt_money(m: Option<Money>) -> Value {
    m.map_or(Value::Null, Value::Money)
}

fn record_field(r: Rec<'_>, name: &str) -> Value {
    match r {
        Rec::Event(e) => match name {
            "name" => Value::Str(e.name.as_str().to_string()),
            "category" => opt_str(e.category.as_deref()),
            "product" => opt_str(e.product_id.as_ref().map(|p| p.as_str())),
            "platform" => opt_str(e.platform.map(|p| p.as_str())),
            "channel" => opt_str(e.channel.as_deref()),
            "price" => opt_money(e.price),
            "quantity" => e.quantity.map_or(Value::Null, |q| Value::Num(q as f64)),
            "revenue" => opt_money(e.revenue),
            "discount" => opt_money(e.discount),
            "coupon" => opt_str(e.coupon.as_deref()),
            "query" => opt_str(e.query.as_deref()),
            "rating" => e.rating.map_or(Value::Null, |r| Value::Num(f64::from(r))),
            "review" => opt_str(e.review_body.as_deref()),
            "order" => opt_str(e.order_id.as_ref().map(|o| o.as_str())),
            _ => Value::Null,
        },
        Rec::Order(o) => match name {
            "total" => Value::Money(o.total),
            "discount" => Value::Money(o.discount),
            "shipping" => Value::Money(o.shipping),
            "discounted" => Value::Bool(o.is_discounted()),
            "lines" => Value::Num(o.lines.len() as f64),
            _ => order_field(o, name),
        },
        Rec::Line(o, l) => match name {
            "category" => opt_str(l.category.as_deref()),
            "product" => Value::Str(l.product_id.as_str().to_string()),
            "quantity" => Value::Num(l.quantity as f64),
            "unit_price" => Value::Money(l.unit_price),
            "amount" => Value::Money(l.amount()),
            _ => order_field(o, name),
        },
    }
}

fn order_field(o: &Order, name: &str) -> Value {
    match name {
        "platform" => opt_str(o.platform.map(|p| p.as_str())),
        "channel" => opt_str(o.channel.as_deref()),
        "coupon" => opt_str(o.coupon.as_deref()),
        "order" => Value::Str(o.id.as_str().to_string()),
        _ => Value::Null,
    }
}

/// Yuan to fen, for a plain number compared with money.
fn yuan(n: f64) -> i64 {
    (n * 100.0).round() as i64
}

/// Compares two values. Equality with `null` tests presence; any other
/// comparison with a missing value is false, as is comparing text with a
/// number.
pub(crate) fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Value::Null) => {
            return match op {
                CmpOp::Eq => false,
                CmpOp::Ne => true,
                _ => false,
            }
        }
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Money(x), Value::Money(y)) => Some(x.cmp(y)),
        (Value::Money(x), Value::Num(y)) => Some(x.fen().cmp(&yuan(*y))),
        (Value::Num(x), Value::Money(y)) => Some(yuan(*x).cmp(&y.fen())),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match (ord, op) {
        (None, CmpOp::Ne) => true,
        (None, _) => false,
        (Some(o), CmpOp::Eq) => o == Ordering::Equal,
        (Some(o), CmpOp::Ne) => o != Ordering::Equal,
        (Some(o), CmpOp::Lt) => o == Ordering::Less,
        (Some(o), CmpOp::Le) => o != Ordering::Greater,
        (Some(o), CmpOp::Gt) => o == Ordering::Greater,
        (Some(o), CmpOp::Ge) => o != Ordering::Less,
    }
}

fn arith(a: Value, op: ArithOp, b: Value) -> Value {
    use ArithOp::*;
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => match op {
            Add => Value::Num(x + y),
            Sub => Value::Num(x - y),
            Mul => Value::Num(x * y),
            Div if y == 0.0 => Value::Null,
            Div => Value::Num(x / y),
        },
        (Value::Money(x), Value::Money(y)) => match op {
            Add => Value::Money(x + y),
            Sub => Value::Money(x - y),
            Div if y.fen() == 0 => Value::Null,
            Div => Value::Num(x.fen() as f64 / y.fen() as f64),
            Mul => Value::Null,
        },
        (Value::Money(x), Value::Num(y)) => match op {
            Add => Value::Money(Money::from_fen(x.fen() + yuan(y))),
            Sub => Value::Money(Money::from_fen(x.fen() - yuan(y))),
            Mul => Value::Money(Money::from_fen((x.fen() as f64 * y).round() as i64)),
            Div if y == 0.0 => Value::Null,
            Div => Value::Money(Money::from_fen((x.fen() as f64 / y).round() as i64)),
        },
        (Value::Num(x), Value::Money(y)) => match op {
            Add => Value::Money(Money::from_fen(yuan(x) + y.fen())),
            Sub => Value::Money(Money::from_fen(yuan(x) - y.fen())),
            Mul => Value::Money(Money::from_fen((x * y.fen() as f64).round() as i64)),
            Div => Value::Null,
        },
        _ => Value::Null,
    }
}
