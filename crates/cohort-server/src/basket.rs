//! Association rules over HTTP: `GET /v1/basket/rules` mines the store's
//! paid orders with FP-growth ([`cohort_mining`]) and answers the rules
//! `cohort basket --json` prints, ranked by lift. Query parameters:
//! `min_support` (share of baskets, (0, 1], default 0.01),
//! `min_confidence` ([0, 1], default 0.5), `min_lift` (≥ 0, default 0),
//! `top` (1–1,000, default 20), `level` (`product` | `category`), `per`
//! (`order` | `user`), `max_len` (1–10, itemset size). A bad one is 400
//! `invalid_input` naming it. Mining runs on each call (no cache).

use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_mining::{association_rules, fp_growth, BasketLevel, BasketOptions, BasketUnit, Baskets, MiningError};
use serde::Serialize;

use crate::analytics::admin_store;
use crate::error::{invalid_input, query_failed};
use crate::AppState;

/// Most rules one answer lists.
pub const MAX_TOP: usize = 1000;

/// The query parameters, checked.
#[derive(Debug, Clone, PartialEq)]
struct RulesQuery {
    min_support: f64,
    min_confidence: f64,
    min_lift: f64,
    top: usize,
    level: BasketLevel,
    per: BasketUnit,
    max_len: Option<usize>,
}

impl Default for RulesQuery {
    fn default() -> Self {
        RulesQuery {
            min_support: 0.01,
            min_confidence: 0.5,
            min_lift: 0.0,
            top: 20,
            level: BasketLevel::Product,
            per: BasketUnit::Order,
            max_len: None,
        }
    }
}

fn parse(raw: Option<&str>) -> Result<RulesQuery, String> {
    let mut q = RulesQuery::default();
    let number = |name: &str, v: &str, ok: &dyn Fn(f64) -> bool, expected: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && ok(*x))
            .ok_or_else(|| format!("{name} {v:?}: expected {expected}"))
    };
    let whole = |name: &str, v: &str, max: usize| -> Result<usize, String> {
        v.parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{name} {v:?}: expected a whole number from 1 to {max}"))
    };
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "min_support" => q.min_support = number(k, v, &|x| x > 0.0 && x <= 1.0, "a share of baskets in (0, 1]")?,
            "min_confidence" => {
                q.min_confidence = number(k, v, &|x| (0.0..=1.0).contains(&x), "a probability in [0, 1]")?
            }
            "min_lift" => q.min_lift = number(k, v, &|x| x >= 0.0, "a number >= 0")?,
            "top" => q.top = whole(k, v, MAX_TOP)?,
            "max_len" => q.max_len = Some(whole(k, v, 10)?),
            "level" => {
                q.level = match v {
                    "product" => BasketLevel::Product,
                    "category" => BasketLevel::Category,
                    _ => return Err(format!("level {v:?}: expected product or category")),
                }
            }
            "per" => {
                q.per = match v {
                    "order" => BasketUnit::Order,
                    "user" => BasketUnit::User,
                    _ => return Err(format!("per {v:?}: expected order or user")),
                }
            }
            other => {
                return Err(format!(
                    "unknown query parameter {other:?} (expected min_support, min_confidence, min_lift, top, level, \
                     per, max_len)"
                ))
            }
        }
    }
    Ok(q)
}

/// The answer: the counts of the mining run and the top rules.
#[derive(Debug, Serialize)]
struct RulesAnswer {
    baskets: usize,
    items: usize,
    min_support: f64,
    /// Baskets an itemset must be in (`min_support` × baskets, rounded up).
    min_count: u64,
    min_confidence: f64,
    min_lift: f64,
    level: &'static str,
    per: &'static str,
    itemsets: usize,
    itemsets_by_size: Vec<usize>,
    /// Rules passing all three thresholds (before `top`).
    rules_total: usize,
    mining_ms: f64,
    rules: Vec<RuleRow>,
}

#[derive(Debug, Serialize)]
struct RuleRow {
    antecedent: Vec<String>,
    consequent: Vec<String>,
    count: u64,
    support: f64,
    confidence: f64,
    lift: f64,
    leverage: f64,
    /// `null` = infinite (confidence 1).
    conviction: Option<f64>,
}

fn mine(store: &dyn cohort_store::EventStore, q: &RulesQuery) -> Result<RulesAnswer, MiningError> {
    let baskets = Baskets::from_store(store, BasketOptions { level: q.level, per: q.per })?;
    let started = Instant::now();
    let sets = fp_growth(baskets.transactions(), q.min_support, q.max_len)?;
    let mining_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rules: Vec<_> =
        association_rules(&sets, q.min_confidence, 1)?.into_iter().filter(|r| r.lift >= q.min_lift).collect();
    let labels = |items: &[u32]| items.iter().map(|&i| baskets.label(i).to_string()).collect::<Vec<_>>();
    Ok(RulesAnswer {
        baskets: baskets.len(),
        items: baskets.item_count(),
        min_support: q.min_support,
        min_count: sets.min_count,
        min_confidence: q.min_confidence,
        min_lift: q.min_lift,
        level: if q.level == BasketLevel::Category { "category" } else { "product" },
        per: if q.per == BasketUnit::User { "user" } else { "order" },
        itemsets: sets.itemsets.len(),
        itemsets_by_size: sets.count_by_size(),
        rules_total: rules.len(),
        mining_ms,
        rules: rules
            .iter()
            .take(q.top)
            .map(|r| RuleRow {
                antecedent: labels(&r.antecedent),
                consequent: labels(&r.consequent),
                count: r.count,
                support: r.support,
                confidence: r.confidence,
                lift: r.lift,
                leverage: r.leverage,
                conviction: r.conviction,
            })
            .collect(),
    })
}

/// `GET /v1/basket/rules`.
pub(crate) async fn rules(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let store = match admin_store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let q = match parse(raw.as_deref()) {
        Ok(q) => q,
        Err(message) => return invalid_input(message),
    };
    match tokio::task::spawn_blocking(move || mine(store.as_ref(), &q)).await {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(e @ MiningError::InvalidThreshold { .. })) => invalid_input(e.to_string()),
        Ok(Err(e)) => query_failed(e),
        Err(e) => query_failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_have_defaults_and_named_errors() {
        assert_eq!(parse(None).unwrap(), RulesQuery::default());
        let q = parse(Some("min_support=0.2&min_confidence=0.6&min_lift=1.5&top=5&level=category&per=user")).unwrap();
        assert_eq!((q.min_support, q.min_confidence, q.min_lift, q.top), (0.2, 0.6, 1.5, 5));
        assert_eq!((q.level, q.per), (BasketLevel::Category, BasketUnit::User));
        let err = |s: &str| parse(Some(s)).unwrap_err();
        assert_eq!(err("min_support=0"), "min_support \"0\": expected a share of baskets in (0, 1]");
        assert_eq!(err("min_confidence=1.5"), "min_confidence \"1.5\": expected a probability in [0, 1]");
        assert_eq!(err("min_lift=-1"), "min_lift \"-1\": expected a number >= 0");
        assert_eq!(err("top=0"), "top \"0\": expected a whole number from 1 to 1000");
        assert_eq!(err("level=brand"), "level \"brand\": expected product or category");
        assert!(err("support=0.1").starts_with("unknown query parameter \"support\""));
        assert!(err("min_support=NaN").starts_with("min_support"));
    }
}
