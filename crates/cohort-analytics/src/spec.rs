//! The building blocks every query spec shares: which events count
//! ([`EventMatch`], [`Activity`]), property [`Filter`]s, time [`Window`]s,
//! calendar [`Period`]s and shop-local [`DateRange`]s.
//!
//! Every type is serde-ready: the JSON a caller sends (CLI `--spec` file,
//! later the HTTP body) is exactly these structs.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use cohort_model::EventName;
use serde::{Deserialize, Serialize};

use crate::error::Issues;

/// Most steps a funnel may have.
pub const MAX_STEPS: usize = 32;

/// A property of an event: one of the typed columns, or any key of the
/// free-form `properties` object. Written as its name (`category`,
/// `platform`, `price_fen`, or any other key such as `utm_campaign`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Property {
    /// `platform` (`app`, `mini_program`, `web`, `store`).
    Platform,
    /// `channel`: marketing / acquisition channel.
    Channel,
    /// `category` of the product.
    Category,
    /// `product_id`.
    ProductId,
    /// `order_id`.
    OrderId,
    /// `coupon` code.
    Coupon,
    /// `query` of a search.
    Query,
    /// `price_fen`: unit price in fen.
    PriceFen,
    /// `quantity`.
    Quantity,
    /// `revenue_fen`: order revenue in fen.
    RevenueFen,
    /// `discount_fen`.
    DiscountFen,
    /// `rating` of a review, 1–5.
    Rating,
    /// Any other key of the event's `properties` object.
    Custom(String),
}

impl Property {
    /// Parses a property name; unknown names are `properties` keys (a
    /// leading `properties.` is accepted and dropped).
    pub fn parse(name: &str) -> Property {
        match name {
            "platform" => Property::Platform,
            "channel" => Property::Channel,
            "category" => Property::Category,
            "product_id" => Property::ProductId,
            "order_id" => Property::OrderId,
            "coupon" => Property::Coupon,
            "query" => Property::Query,
            "price_fen" => Property::PriceFen,
            "quantity" => Property::Quantity,
            "revenue_fen" => Property::RevenueFen,
            "discount_fen" => Property::DiscountFen,
            "rating" => Property::Rating,
            other => Property::Custom(other.strip_prefix("properties.").unwrap_or(other).to_string()),
        }
    }

    /// The name as written in specs.
    pub fn name(&self) -> &str {
        match self {
            Property::Platform => "platform",
            Property::Channel => "channel",
            Property::Category => "category",
            Property::ProductId => "product_id",
            Property::OrderId => "order_id",
            Property::Coupon => "coupon",
            Property::Query => "query",
            Property::PriceFen => "price_fen",
            Property::Quantity => "quantity",
            Property::RevenueFen => "revenue_fen",
            Property::DiscountFen => "discount_fen",
            Property::Rating => "rating",
            Property::Custom(key) => key,
        }
    }

    /// The typed column holding the property, if it has one.
    pub fn column(&self) -> Option<&'static str> {
        Some(match self {
            Property::Platform => "platform",
            Property::Channel => "channel",
            Property::Category => "category",
            Property::ProductId => "product_id",
            Property::OrderId => "order_id",
            Property::Coupon => "coupon",
            Property::Query => "query",
            Property::PriceFen => "price_fen",
            Property::Quantity => "quantity",
            Property::RevenueFen => "revenue_fen",
            Property::DiscountFen => "discount_fen",
            Property::Rating => "rating",
            Property::Custom(_) => return None,
        })
    }

    /// Whether the column is numeric.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Property::PriceFen | Property::Quantity | Property::RevenueFen | Property::DiscountFen | Property::Rating
        )
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Property {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Property {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Property::parse(&String::deserialize(d)?))
    }
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// Equal to `value`.
    Eq,
    /// Not equal to `value` (a missing property is not equal).
    Ne,
    /// One of `value` (an array).
    In,
    /// Numerically greater than `value`.
    Gt,
    /// Numerically at least `value`.
    Gte,
    /// Numerically less than `value`.
    Lt,
    /// Numerically at most `value`.
    Lte,
    /// Text contains `value`.
    Contains,
    /// The property is present (`value` ignored).
    IsSet,
}

impl FilterOp {
    /// The operator as written in the CLI's short form.
    pub fn symbol(self) -> &'static str {
        match self {
            FilterOp::Eq => "=",
            FilterOp::Ne => "!=",
            FilterOp::In => " in ",
            FilterOp::Gt => ">",
            FilterOp::Gte => ">=",
            FilterOp::Lt => "<",
            FilterOp::Lte => "<=",
            FilterOp::Contains => "~",
            FilterOp::IsSet => "?",
        }
    }
}

/// A condition on one property of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The property tested.
    pub property: Property,
    /// The comparison.
    #[serde(default = "default_op")]
    pub op: FilterOp,
    /// The value compared with: a string or number, an array for `in`.
    #[serde(default)]
    pub value: serde_json::Value,
}

fn default_op() -> FilterOp {
    FilterOp::Eq
}

impl Filter {
    /// `property = value`.
    pub fn eq(property: &str, value: impl Into<serde_json::Value>) -> Self {
        Filter { property: Property::parse(property), op: FilterOp::Eq, value: value.into() }
    }

    /// Parses the CLI's short form: `category=零食`, `price_fen>=1000`,
    /// `platform!=web`, `query~手机`, `coupon?`, `platform in app|web`.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let text = text.trim();
        if let Some(prop) = text.strip_suffix('?') {
            return Ok(Filter {
                property: Property::parse(prop.trim()),
                op: FilterOp::IsSet,
                value: Default::default(),
            });
        }
        if let Some((prop, list)) = text.split_once(" in ") {
            let values = list.split('|').map(|v| scalar(v.trim())).collect();
            return Ok(Filter {
                property: Property::parse(prop.trim()),
                op: FilterOp::In,
                value: serde_json::Value::Array(values),
            });
        }
        for (symbol, op) in [
            ("!=", FilterOp::Ne),
            (">=", FilterOp::Gte),
            ("<=", FilterOp::Lte),
            ("=", FilterOp::Eq),
            (">", FilterOp::Gt),
            ("<", FilterOp::Lt),
            ("~", FilterOp::Contains),
        ] {
            if let Some((prop, value)) = text.split_once(symbol) {
                if prop.trim().is_empty() {
                    break;
                }
                return Ok(Filter { property: Property::parse(prop.trim()), op, value: scalar(value.trim()) });
            }
        }
        Err(format!("cannot read filter {text:?} (expected e.g. category=零食, price_fen>=1000, coupon?)"))
    }

    pub(crate) fn validate(&self, field: &str, issues: &mut Issues) {
        let numeric = |v: &serde_json::Value| v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok());
        if let Property::Custom(key) = &self.property {
            if key.is_empty() {
                issues.push(format!("{field}.property"), "empty property name");
            }
        }
        match self.op {
            FilterOp::IsSet => {}
            FilterOp::In => match &self.value {
                serde_json::Value::Array(values) if !values.is_empty() => {
                    if values.iter().any(|v| !(v.is_string() || v.is_number() || v.is_boolean())) {
                        issues.push(format!("{field}.value"), "`in` takes an array of strings or numbers");
                    }
                }
                other => issues.push(format!("{field}.value"), format!("`in` needs a non-empty array, got {other}")),
            },
            FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte => {
                if !numeric(&self.value) {
                    issues.push(format!("{field}.value"), format!("`{:?}` needs a number, got {}", self.op, self.value))
                }
            }
            FilterOp::Eq | FilterOp::Ne | FilterOp::Contains => {
                if !(self.value.is_string() || self.value.is_number() || self.value.is_boolean()) {
                    issues.push(format!("{field}.value"), format!("needs a string or number, got {}", self.value));
                } else if self.property.is_numeric() && self.op != FilterOp::Contains && !numeric(&self.value) {
                    issues.push(format!("{field}.value"), format!("{} is numeric, got {}", self.property, self.value));
                }
            }
        }
    }
}

fn scalar(text: &str) -> serde_json::Value {
    match text.parse::<i64>() {
        Ok(n) => n.into(),
        Err(_) => text.to_string().into(),
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match &self.value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(values) => values
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("|"),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        write!(f, "{}{}{}", self.property, self.op.symbol(), value)
    }
}

/// An event with conditions on its properties: a funnel step, an exclusion,
/// a path's start or end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// The event name (`Product Viewed`, or an SDK spelling such as
    /// `product_viewed`; custom names verbatim).
    pub event: String,
    /// All must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

impl EventMatch {
    /// A match on the event name alone.
    pub fn named(event: impl Into<String>) -> Self {
        EventMatch { event: event.into(), filters: Vec::new() }
    }

    /// Adds a filter.
    pub fn with(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// The stored (canonical) event name.
    pub fn stored_name(&self) -> String {
        EventName::parse(&self.event).as_str().to_string()
    }

    /// Parses the CLI's short form `Event Name[filter,filter…]`, e.g.
    /// `Product Viewed[category=零食,platform=app]`.
    pub fn parse(text: &str) -> Result<EventMatch, String> {
        let text = text.trim();
        let Some(open) = text.find('[') else { return Ok(EventMatch::named(text)) };
        let Some(inner) = text[open + 1..].strip_suffix(']') else {
            return Err(format!("{text:?}: a filter list opened with `[` must end with `]`"));
        };
        let filters = inner.split(',').filter(|f| !f.trim().is_empty()).map(Filter::parse).collect::<Result<_, _>>()?;
        Ok(EventMatch { event: text[..open].trim().to_string(), filters })
    }

    pub(crate) fn validate(&self, field: &str, events: &EventCatalogue, issues: &mut Issues) {
        if self.event.trim().is_empty() {
            issues.push(format!("{field}.event"), "empty event name");
        } else if !events.contains(&self.stored_name()) {
            issues.push(format!("{field}.event"), format!("unknown event {:?}", self.event));
        }
        for (i, filter) in self.filters.iter().enumerate() {
            filter.validate(&format!("{field}.filters[{i}]"), issues);
        }
    }

    /// A short label: `Product Viewed[category=零食]`.
    pub fn label(&self) -> String {
        if self.filters.is_empty() {
            self.stored_name()
        } else {
            let filters: Vec<String> = self.filters.iter().map(ToString::to_string).collect();
            format!("{}[{}]", self.stored_name(), filters.join(","))
        }
    }
}

/// What counts as an occurrence for cohorts and returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Activity {
    /// Any stored event.
    AnyEvent,
    /// One event, with filters.
    Event {
        /// The event name.
        event: String,
        /// All must hold.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        filters: Vec<Filter>,
    },
    /// A paid order (`orders` with kind `purchase`; refunds never count).
    Order,
}

impl Activity {
    /// An event by name.
    pub fn event(name: &str) -> Activity {
        Activity::Event { event: name.to_string(), filters: Vec::new() }
    }

    /// The event matched, for [`Activity::Event`].
    pub fn event_match(&self) -> Option<EventMatch> {
        match self {
            Activity::Event { event, filters } => Some(EventMatch { event: event.clone(), filters: filters.clone() }),
            _ => None,
        }
    }

    /// Parses the CLI form: `any`, `order`, or an [`EventMatch`].
    pub fn parse(text: &str) -> Result<Activity, String> {
        match text.trim() {
            "any" | "any-event" | "any_event" => Ok(Activity::AnyEvent),
            "order" | "first-order" | "first_order" => Ok(Activity::Order),
            other => {
                let m = EventMatch::parse(other)?;
                Ok(Activity::Event { event: m.event, filters: m.filters })
            }
        }
    }

    pub(crate) fn validate(&self, field: &str, events: &EventCatalogue, issues: &mut Issues) {
        if let Some(m) = self.event_match() {
            m.validate(field, events, issues);
        }
    }

    /// A short label.
    pub fn label(&self) -> String {
        match self {
            Activity::AnyEvent => "any event".into(),
            Activity::Event { .. } => self.event_match().map(|m| m.label()).unwrap_or_default(),
            Activity::Order => "order".into(),
        }
    }
}

/// The unit of a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowUnit {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days of 24 hours.
    Day,
    /// Weeks of 7 days.
    Week,
}

impl WindowUnit {
    fn seconds(self) -> i64 {
        match self {
            WindowUnit::Second => 1,
            WindowUnit::Minute => 60,
            WindowUnit::Hour => 3600,
            WindowUnit::Day => 86_400,
            WindowUnit::Week => 7 * 86_400,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            WindowUnit::Second => "s",
            WindowUnit::Minute => "m",
            WindowUnit::Hour => "h",
            WindowUnit::Day => "d",
            WindowUnit::Week => "w",
        }
    }
}

/// A length of time, exact (a day is 24 hours). Written `"7d"`, `"30m"`,
/// `"2h"`, `"45s"`, `"1w"`, or as `{"value": 7, "unit": "day"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowRepr", into = "String")]
pub struct Window {
    /// How many units (must be positive to be valid).
    pub value: i64,
    /// The unit.
    pub unit: WindowUnit,
}

impl Window {
    /// `value` days.
    pub const fn days(value: i64) -> Window {
        Window { value, unit: WindowUnit::Day }
    }

    /// `value` hours.
    pub const fn hours(value: i64) -> Window {
        Window { value, unit: WindowUnit::Hour }
    }

    /// `value` seconds.
    pub const fn seconds(value: i64) -> Window {
        Window { value, unit: WindowUnit::Second }
    }

    /// The length in milliseconds.
    pub fn millis(self) -> i64 {
        self.value.saturating_mul(self.unit.seconds()).saturating_mul(1000)
    }

    pub(crate) fn validate(self, field: &str, issues: &mut Issues) {
        if self.value <= 0 {
            issues.push(field, format!("window must be positive, got {self}"));
        } else if self.millis() > 3650 * 86_400_000 {
            issues.push(field, format!("window {self} is longer than ten years"));
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WindowRepr {
    Text(String),
    Parts { value: i64, unit: WindowUnit },
}

impl TryFrom<WindowRepr> for Window {
    type Error = String;

    fn try_from(repr: WindowRepr) -> Result<Self, Self::Error> {
        match repr {
            WindowRepr::Text(text) => text.parse(),
            WindowRepr::Parts { value, unit } => Ok(Window { value, unit }),
        }
    }
}

impl From<Window> for String {
    fn from(w: Window) -> String {
        w.to_string()
    }
}

impl FromStr for Window {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: i64 =
            number.parse().map_err(|_| format!("cannot read window {text:?} (expected e.g. 7d, 2h, 30m, 45s, 1w)"))?;
        let unit = match unit.trim() {
            "s" | "sec" | "second" | "seconds" => WindowUnit::Second,
            "m" | "min" | "minute" | "minutes" => WindowUnit::Minute,
            "h" | "hour" | "hours" => WindowUnit::Hour,
            "d" | "day" | "days" => WindowUnit::Day,
            "w" | "week" | "weeks" => WindowUnit::Week,
            other => return Err(format!("unknown window unit {other:?} in {text:?} (use s, m, h, d or w)")),
        };
        Ok(Window { value, unit })
    }
}

/// A shop-local calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A calendar day.
    Day,
    /// A week starting on Monday.
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// The name used in SQL (`day`, `week`, `month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The first day of the period holding `date`.
    pub fn start(self, date: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            Period::Day => date,
            Period::Week => date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())),
            Period::Month => date.with_day(1).expect("day 1 exists"),
        }
    }

    /// The start of the period `n` periods after the one starting at `start`.
    pub fn advance(self, start: NaiveDate, n: u32) -> NaiveDate {
        match self {
            Period::Day => start + chrono::Days::new(u64::from(n)),
            Period::Week => start + chrono::Days::new(7 * u64::from(n)),
            Period::Month => start + chrono::Months::new(n),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" | "daily" | "d" => Ok(Period::Day),
            "week" | "weekly" | "w" => Ok(Period::Week),
            "month" | "monthly" | "m" => Ok(Period::Month),
            other => Err(format!("unknown period {other:?} (use day, week or month)")),
        }
    }
}

/// Shop-local dates, both inclusive; an open end means "all data".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// Last day included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl DateRange {
    pub(crate) fn validate(&self, field: &str, issues: &mut Issues) {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                issues.push(field, format!("from {from} is after to {to}"));
            }
        }
    }
}

/// The Segment e-commerce and Cohort event names as stored: always known to
/// specs, and the events that count as a person's activity (custom names do
/// not, as in `cohort_model::EventName::is_activity`).
pub const KNOWN_EVENTS: [&str; 20] = [
    "Page Viewed",
    "Products Searched",
    "Product List Viewed",
    "Product Viewed",
    "Product Clicked",
    "Product Added",
    "Product Removed",
    "Product Added to Wishlist",
    "Cart Viewed",
    "Checkout Started",
    "Payment Info Entered",
    "Order Completed",
    "Order Cancelled",
    "Order Refunded",
    "Coupon Applied",
    "Product Reviewed",
    "Product Shared",
    "Checked In",
    "Live Stream Watched",
    "Short Video Watched",
];

/// The event names a spec may use: every known Segment e-commerce name plus
/// every name present in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCatalogue {
    names: BTreeSet<String>,
}

impl EventCatalogue {
    /// The built-in names plus `stored`.
    pub fn new(stored: impl IntoIterator<Item = String>) -> Self {
        let mut names: BTreeSet<String> = stored.into_iter().collect();
        for known in KNOWN_EVENTS {
            names.insert(known.to_string());
        }
        EventCatalogue { names }
    }

    /// Whether `stored_name` may be used.
    pub fn contains(&self, stored_name: &str) -> bool {
        self.names.contains(stored_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_parse() {
        let m = EventMatch::parse("Product Viewed[category=零食,price_fen>=1000]").unwrap();
        assert_eq!(m.event, "Product Viewed");
        assert_eq!(m.filters[0], Filter::eq("category", "零食"));
        assert_eq!(m.filters[1].op, FilterOp::Gte);
        assert_eq!(m.filters[1].value, serde_json::json!(1000));
        assert_eq!(m.label(), "Product Viewed[category=零食,price_fen>=1000]");
        assert_eq!(EventMatch::parse("pv").unwrap().stored_name(), "Product Viewed");
        let f = Filter::parse("platform in app|web").unwrap();
        assert_eq!(f.value, serde_json::json!(["app", "web"]));
        assert_eq!(Filter::parse("coupon?").unwrap().op, FilterOp::IsSet);
        assert!(Filter::parse("=x").is_err());
        assert_eq!("7d".parse::<Window>().unwrap().millis(), 7 * 86_400_000);
        assert_eq!("-3h".parse::<Window>().unwrap().value, -3);
        assert!("7y".parse::<Window>().is_err());
        assert_eq!(serde_json::to_string(&Window::days(7)).unwrap(), r#""7d""#);
        assert_eq!(serde_json::from_str::<Window>(r#"{"value":2,"unit":"hour"}"#).unwrap(), Window::hours(2));
        let json = serde_json::to_string(&Activity::event("Order Completed")).unwrap();
        assert_eq!(json, r#"{"kind":"event","event":"Order Completed"}"#);
        assert_eq!(serde_json::from_str::<Activity>(r#"{"kind":"order"}"#).unwrap(), Activity::Order);
    }

    #[test]
    fn periods_start_on_monday_and_first_of_month() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 13).unwrap(); // a Thursday
        assert_eq!(Period::Week.start(d), NaiveDate::from_ymd_opt(2025, 3, 10).unwrap());
        assert_eq!(Period::Month.start(d), NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
        assert_eq!(Period::Month.advance(NaiveDate::from_ymd_opt(2025, 11, 1).unwrap(), 3).to_string(), "2026-02-01");
    }
}
