//! Purchase days per customer, read once from the store, from which RFM
//! summaries at any as-of day (calibration or full period) are cut.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cohort_model::{OrderKind, PersonId, ShopTime};
use cohort_store::EventStore;

use super::{ClvError, Rfm};

/// One customer's purchase days, ascending: (shop-local date, fen paid that day).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDays {
    /// Who.
    pub person_id: PersonId,
    /// Purchase days and what was paid on each, in time order.
    pub days: Vec<(NaiveDate, i64)>,
}

impl CustomerDays {
    /// The RFM summary at the end of `as_of` (purchases after it ignored);
    /// `None` when the first purchase is after `as_of`.
    pub fn rfm(&self, as_of: NaiveDate) -> Option<Rfm> {
        let seen: Vec<_> = self.days.iter().take_while(|(d, _)| *d <= as_of).collect();
        let (first, _) = **seen.first()?;
        let (last, _) = **seen.last()?;
        let x = seen.len() - 1;
        let monetary =
            if x == 0 { 0.0 } else { seen[1..].iter().map(|(_, fen)| *fen as f64).sum::<f64>() / x as f64 / 100.0 };
        Some(Rfm {
            frequency: x as f64,
            recency: (last - first).num_days() as f64,
            age: (as_of - first).num_days() as f64,
            monetary,
        })
    }

    /// Purchase days in `(after, until]`.
    pub fn purchases_between(&self, after: NaiveDate, until: NaiveDate) -> usize {
        self.days.iter().filter(|(d, _)| *d > after && *d <= until).count()
    }
}

/// Every customer's purchase days, and the last purchase instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseDays {
    /// Customers with at least one paid order, by person id.
    pub customers: Vec<CustomerDays>,
    /// The latest paid order in the store (the default as-of).
    pub last_purchase_at: Option<DateTime<Utc>>,
}

impl PurchaseDays {
    /// The customer's days, by person id.
    pub fn get(&self, person: &PersonId) -> Option<&CustomerDays> {
        self.customers.binary_search_by(|c| c.person_id.cmp(person)).ok().map(|i| &self.customers[i])
    }
}

/// Reads paid orders (kind purchase, positive total, with a person) and
/// groups them by shop-local day. Refunds are left out: BG/NBD counts
/// purchase occasions, and a refund's spend is not known per day in
/// general (Online Retail's `C…` invoices are separate records).
pub fn purchase_days(store: &dyn EventStore, shop: &ShopTime) -> Result<PurchaseDays, ClvError> {
    let mut customers = Vec::new();
    let mut last: Option<DateTime<Utc>> = None;
    store.scan_histories(&mut |h| {
        let mut days: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for o in &h.orders {
            if o.kind != OrderKind::Purchase || o.total.fen() <= 0 {
                continue;
            }
            *days.entry(shop.date(o.placed_at)).or_default() += o.total.fen();
            last = last.max(Some(o.placed_at));
        }
        if !days.is_empty() {
            customers.push(CustomerDays { person_id: h.person_id, days: days.into_iter().collect() });
        }
        Ok(())
    })?;
    customers.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    Ok(PurchaseDays { customers, last_purchase_at: last })
}
