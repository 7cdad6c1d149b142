//! Replenishment: how often products (or categories) are re-bought, which
//! are consumables, and when each customer's supply should run out — "your
//! face masks are about to run out" — for journeys to act on
//! ([`Replenishment::due_between`]).
//!
//! An item's typical interval is the median, over its repeat buyers, of each
//! buyer's median gap between purchase days (a buyer who re-buys weekly
//! counts once, not fifty times). An item is a consumable when the
//! catalogue says so or when enough of its buyers come back for it; only
//! items with at least `min_repeat_buyers` repeat buyers get an interval.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use cohort_model::{OrderKind, PersonId, ShopTime};
use cohort_store::EventStore;
use serde::{Deserialize, Serialize};

/// What an item is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplenishLevel {
    /// Product ids.
    #[default]
    Product,
    /// Product categories (the catalogue's, else the order line's).
    Category,
}

/// Thresholds (`[replenish]` in `cohort.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplenishSettings {
    /// Products or categories.
    pub level: ReplenishLevel,
    /// Repeat buyers an item needs before its interval is trusted.
    pub min_repeat_buyers: usize,
    /// Share of an item's buyers who re-buy it, at or above which it counts
    /// as a consumable (the catalogue's `consumable` flag also counts).
    pub min_repeat_rate: f64,
    /// Gaps longer than this many days are a new need, not a refill, and are
    /// ignored.
    pub max_interval_days: u32,
}

impl Default for ReplenishSettings {
    fn default() -> Self {
        ReplenishSettings {
            level: ReplenishLevel::Product,
            min_repeat_buyers: 5,
            min_repeat_rate: 0.2,
            max_interval_days: 365,
        }
    }
}

impl ReplenishSettings {
    /// Checks ranges, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_repeat_buyers == 0 {
            return Err("min_repeat_buyers: must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.min_repeat_rate) {
            return Err(format!("min_repeat_rate: must be a share from 0 to 1, got {}", self.min_repeat_rate));
        }
        if self.max_interval_days == 0 {
            return Err("max_interval_days: must be at least 1".into());
        }
        Ok(())
    }
}

/// How one item is re-bought.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemInterval {
    /// Product id or category.
    pub item: String,
    /// Display name (products with a name in the catalogue).
    pub name: Option<String>,
    /// Customers who bought it.
    pub buyers: usize,
    /// Customers who bought it on two days or more (with a gap within
    /// `max_interval_days`).
    pub repeat_buyers: usize,
    /// Median over repeat buyers of their median gap, in days.
    pub interval_days: f64,
    /// Consumable: flagged in the catalogue, or re-bought by at least
    /// `min_repeat_rate` of its buyers.
    pub consumable: bool,
}

/// One customer's expected run-out of one consumable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DueItem {
    /// Who.
    pub person_id: PersonId,
    /// Product id or category.
    pub item: String,
    /// Display name, when known.
    pub name: Option<String>,
    /// Their last purchase day of it.
    pub last_purchase: NaiveDate,
    /// Last purchase + the item's interval.
    pub run_out: NaiveDate,
    /// The interval used, in days (rounded).
    pub interval_days: u32,
}

/// Intervals per item and every customer's last purchase day of each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replenishment {
    settings: ReplenishSettings,
    /// Items with a trusted interval, by item.
    items: BTreeMap<String, ItemInterval>,
    /// Per person (sorted), (item, last purchase day) of consumables.
    last: Vec<(PersonId, Vec<(String, NaiveDate)>)>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Replenishment {
    /// Reads every paid order line (positive quantity) of `store` and builds
    /// the intervals.
    pub fn from_store(
        store: &dyn EventStore,
        shop: &ShopTime,
        settings: ReplenishSettings,
    ) -> Result<Replenishment, cohort_store::StoreError> {
        let products = store.products()?;
        let catalogue: HashMap<String, &cohort_model::Product> =
            products.iter().map(|p| (p.id.as_str().to_string(), p)).collect();
        let mut people: Vec<(PersonId, BTreeMap<String, Vec<NaiveDate>>)> = Vec::new();
        store.scan_histories(&mut |h| {
            let mut bought: BTreeMap<String, Vec<NaiveDate>> = BTreeMap::new();
            for o in h.orders.iter().filter(|o| o.kind == OrderKind::Purchase) {
                let day = shop.date(o.placed_at);
                for line in o.lines.iter().filter(|l| l.quantity > 0) {
                    let item = match settings.level {
                        ReplenishLevel::Product => Some(line.product_id.as_str().to_string()),
                        ReplenishLevel::Category => catalogue
                            .get(line.product_id.as_str())
                            .and_then(|p| p.category.clone())
                            .or_else(|| line.category.clone()),
                    };
                    if let Some(item) = item {
                        bought.entry(item).or_default().push(day);
                    }
                }
            }
            if !bought.is_empty() {
                people.push((h.person_id, bought));
            }
            Ok(())
        })?;
        let mut flagged: HashMap<String, bool> = HashMap::new();
        for p in &products {
            let key = match settings.level {
                ReplenishLevel::Product => Some(p.id.as_str().to_string()),
                ReplenishLevel::Category => p.category.clone(),
            };
            if let (Some(k), true) = (key, p.consumable) {
                flagged.insert(k, true);
            }
        }
        let names: HashMap<String, String> = match settings.level {
            ReplenishLevel::Product => {
                products.iter().filter_map(|p| Some((p.id.as_str().to_string(), p.name.clone()?))).collect()
            }
            ReplenishLevel::Category => HashMap::new(),
        };
        Ok(Self::build(people, &flagged, &names, settings))
    }

    /// Builds from purchase days per person and item (days in any order,
    /// duplicates allowed); `flagged` marks catalogue consumables.
    pub fn build(
        mut people: Vec<(PersonId, BTreeMap<String, Vec<NaiveDate>>)>,
        flagged: &HashMap<String, bool>,
        names: &HashMap<String, String>,
        settings: ReplenishSettings,
    ) -> Replenishment {
        let max_gap = i64::from(settings.max_interval_days);
        // item -> (buyers, per repeat buyer median gap)
        let mut stats: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
        for (_, items) in people.iter_mut() {
            for (item, days) in items.iter_mut() {
                days.sort_unstable();
                days.dedup();
                let entry = stats.entry(item.clone()).or_default();
                entry.0 += 1;
                let mut gaps: Vec<f64> = days
                    .windows(2)
                    .map(|w| (w[1] - w[0]).num_days())
                    .filter(|g| *g <= max_gap)
                    .map(|g| g as f64)
                    .collect();
                if !gaps.is_empty() {
                    entry.1.push(median(&mut gaps));
                }
            }
        }
        let items: BTreeMap<String, ItemInterval> = stats
            .into_iter()
            .filter(|(_, (_, medians))| medians.len() >= settings.min_repeat_buyers.max(1))
            .map(|(item, (buyers, mut medians))| {
                let repeat_buyers = medians.len();
                let rate = repeat_buyers as f64 / buyers as f64;
                let consumable = flagged.get(&item).copied().unwrap_or(false) || rate >= settings.min_repeat_rate;
                let interval = ItemInterval {
                    name: names.get(&item).cloned(),
                    item: item.clone(),
                    buyers,
                    repeat_buyers,
                    interval_days: median(&mut medians),
                    consumable,
                };
                (item, interval)
            })
            .collect();
        let mut last: Vec<(PersonId, Vec<(String, NaiveDate)>)> = people
            .into_iter()
            .map(|(person, bought)| {
                let mine = bought
                    .into_iter()
                    .filter(|(item, _)| items.get(item).is_some_and(|i| i.consumable))
                    .filter_map(|(item, days)| Some((item, *days.last()?)))
                    .collect();
                (person, mine)
            })
            .filter(|(_, mine): &(PersonId, Vec<_>)| !mine.is_empty())
            .collect();
        last.sort_by(|a, b| a.0.cmp(&b.0));
        Replenishment { settings, items, last }
    }

    /// The settings used.
    pub fn settings(&self) -> &ReplenishSettings {
        &self.settings
    }

    /// Items with a trusted interval, by item.
    pub fn items(&self) -> impl Iterator<Item = &ItemInterval> {
        self.items.values()
    }

    /// One item's interval.
    pub fn item(&self, item: &str) -> Option<&ItemInterval> {
        self.items.get(item)
    }

    fn due(&self, person: &PersonId, item: &str, last: NaiveDate) -> DueItem {
        let i = &self.items[item];
        let days = i.interval_days.round() as u32;
        DueItem {
            person_id: person.clone(),
            item: item.to_string(),
            name: i.name.clone(),
            last_purchase: last,
            run_out: last + Duration::days(i64::from(days)),
            interval_days: days,
        }
    }

    /// Every consumable `person` bought, with its expected run-out day,
    /// soonest first.
    pub fn for_person(&self, person: &PersonId) -> Vec<DueItem> {
        let Ok(i) = self.last.binary_search_by(|p| p.0.cmp(person)) else { return Vec::new() };
        let mut due: Vec<DueItem> = self.last[i].1.iter().map(|(item, d)| self.due(person, item, *d)).collect();
        due.sort_by(|a, b| a.run_out.cmp(&b.run_out).then_with(|| a.item.cmp(&b.item)));
        due
    }

    /// Every (customer, consumable) whose run-out day falls in `[from, to]`,
    /// by run-out day then person: what a "about to run out" journey sends.
    pub fn due_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<DueItem> {
        let mut due: Vec<DueItem> = self
            .last
            .iter()
            .flat_map(|(person, mine)| mine.iter().map(move |(item, d)| self.due(person, item, *d)))
            .filter(|d| d.run_out >= from && d.run_out <= to)
            .collect();
        due.sort_by(|a, b| (a.run_out, &a.person_id, &a.item).cmp(&(b.run_out, &b.person_id, &b.item)));
        due
    }

    /// Persons with at least one consumable, sorted.
    pub fn persons(&self) -> impl Iterator<Item = &PersonId> {
        self.last.iter().map(|p| &p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn pid(s: &str) -> PersonId {
        PersonId::new(s).unwrap()
    }

    /// Masks re-bought every ~30 days by three people, a sofa once each, and
    /// a shampoo the catalogue flags but only two people re-buy.
    fn fixture(settings: ReplenishSettings) -> Replenishment {
        let mut people = Vec::new();
        let person = |name: &str, items: &[(&str, &[&str])]| {
            (pid(name), items.iter().map(|(i, days)| (i.to_string(), days.iter().map(|s| d(s)).collect())).collect())
        };
        people
            .push(person("ann", &[("masks", &["2024-01-01", "2024-01-31", "2024-03-01"]), ("sofa", &["2024-01-05"])]));
        // bob: gaps 20 and 40, median 30 — plus a same-day duplicate
        people.push(person("bob", &[("masks", &["2024-02-01", "2024-02-21", "2024-02-21", "2024-04-01"])]));
        // cat: one gap of 28
        people.push(person("cat", &[("masks", &["2024-03-01", "2024-03-29"]), ("shampoo", &["2024-03-01"])]));
        // dan: one gap of 40 and one of 500 (ignored: over max_interval_days)
        people
            .push(person("dan", &[("masks", &["2022-01-01", "2023-05-16", "2023-06-25"]), ("sofa", &["2024-02-02"])]));
        people.push(person("eve", &[("masks", &["2024-04-10"]), ("shampoo", &["2024-01-01", "2024-01-15"])]));
        let flagged = HashMap::from([("shampoo".to_string(), true)]);
        let names = HashMap::from([("masks".to_string(), "Face masks".to_string())]);
        Replenishment::build(people, &flagged, &names, settings)
    }

    #[test]
    fn intervals_on_a_hand_built_fixture() {
        let r = fixture(ReplenishSettings { min_repeat_buyers: 1, ..Default::default() });
        let masks = r.item("masks").unwrap();
        // per-buyer medians: ann 30 (30, 30), bob 30 (20, 40), cat 28, dan 40 → median (30+30)/2
        assert_eq!((masks.buyers, masks.repeat_buyers, masks.interval_days, masks.consumable), (5, 4, 30.0, true));
        assert_eq!(masks.name.as_deref(), Some("Face masks"));
        let shampoo = r.item("shampoo").unwrap();
        assert_eq!((shampoo.buyers, shampoo.repeat_buyers, shampoo.interval_days), (2, 1, 14.0));
        assert!(r.item("sofa").is_none(), "never re-bought: no interval");

        let ann = r.for_person(&pid("ann"));
        assert_eq!(ann.len(), 1);
        assert_eq!(
            (ann[0].last_purchase, ann[0].run_out, ann[0].interval_days),
            (d("2024-03-01"), d("2024-03-31"), 30)
        );
        let eve: Vec<_> = r.for_person(&pid("eve")).into_iter().map(|x| (x.item, x.run_out)).collect();
        assert_eq!(eve, vec![("shampoo".into(), d("2024-01-29")), ("masks".into(), d("2024-05-10"))]);

        let due: Vec<_> = r
            .due_between(d("2024-04-01"), d("2024-04-30"))
            .into_iter()
            .map(|x| (x.person_id.to_string(), x.run_out))
            .collect();
        assert_eq!(due, vec![("cat".into(), d("2024-04-28"))]);
        let due = r.due_between(d("2024-03-31"), d("2024-05-01"));
        let who: Vec<_> = due.iter().map(|x| x.person_id.as_str()).collect();
        assert_eq!(who, ["ann", "cat", "bob"]);
    }

    #[test]
    fn support_and_repeat_rate_thresholds() {
        // masks has 4 repeat buyers: below a support of 5 it gets no interval
        let r = fixture(ReplenishSettings { min_repeat_buyers: 5, ..Default::default() });
        assert_eq!(r.items().count(), 0);
        assert!(r.for_person(&pid("ann")).is_empty());
        // shampoo: 1 of 2 buyers re-buys (rate 0.5), but flagged anyway; masks 4/5
        let r = fixture(ReplenishSettings { min_repeat_buyers: 1, min_repeat_rate: 0.9, ..Default::default() });
        assert!(!r.item("masks").unwrap().consumable);
        assert!(r.item("shampoo").unwrap().consumable, "catalogue flag wins");
    }
}
