//! The recommender end to end: hand-built interactions with known answers,
//! the business rules, save / load, and the Online Retail time split.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cohort_model::{Money, PersonId, Product, ProductId};
use cohort_recommend::{
    evaluate, interactions_from_store, EvalOptions, Interaction, InteractionKind, NoProgress, Pin, Placement,
    RecommendConfig, Recommender, Source,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 2, 0, 0).unwrap()
}

fn pid(s: &str) -> ProductId {
    ProductId::new(s).unwrap()
}

fn person(s: &str) -> PersonId {
    PersonId::new(s).unwrap()
}

fn buy(p: &str, item: &str, day: i64, order: &str) -> Interaction {
    Interaction {
        person: person(p),
        product: pid(item),
        kind: InteractionKind::Purchase,
        at: t0() + Duration::days(day),
        order: Some(cohort_model::OrderId::new(order).unwrap()),
    }
}

fn view(p: &str, item: &str, day: i64) -> Interaction {
    Interaction {
        person: person(p),
        product: pid(item),
        kind: InteractionKind::View,
        at: t0() + Duration::days(day),
        order: None,
    }
}

fn product(id: &str, category: &str, price_yuan: i64, consumable: bool, in_stock: bool) -> Product {
    let mut p = Product::new(pid(id));
    p.category = Some(category.into());
    p.price = Some(Money::from_fen(price_yuan * 100));
    p.consumable = consumable;
    p.in_stock = in_stock;
    p
}

fn ids(list: &[cohort_recommend::Recommendation]) -> Vec<&str> {
    list.iter().map(|r| r.product_id.as_str()).collect()
}

/// Two communities: 20 people buy phones + cases together, 20 buy nappies
/// + wipes together; a few cross over.
fn two_communities() -> (Vec<Interaction>, Vec<Product>) {
    let mut v = Vec::new();
    for u in 0..20 {
        let p = format!("tech{u}");
        v.push(buy(&p, "phone", u % 5, &format!("t{u}")));
        v.push(buy(&p, "case", u % 5, &format!("t{u}")));
        if u % 2 == 0 {
            v.push(view(&p, "charger", 6));
        }
        let p = format!("baby{u}");
        v.push(buy(&p, "nappies", u % 5, &format!("b{u}")));
        v.push(buy(&p, "wipes", u % 5, &format!("b{u}")));
        if u % 2 == 0 {
            v.push(view(&p, "bottle", 6));
        }
    }
    v.push(buy("tech0", "wipes", 7, "x1"));
    let products = vec![
        product("phone", "数码", 3000, false, true),
        product("case", "数码", 50, false, true),
        product("charger", "数码", 80, false, true),
        product("nappies", "母婴", 120, true, true),
        product("wipes", "母婴", 30, true, true),
        product("bottle", "母婴", 90, false, true),
    ];
    (v, products)
}

#[test]
fn known_neighbours_and_placements() {
    let (interactions, products) = two_communities();
    let model = Recommender::train(&interactions, &products, &RecommendConfig::default(), None, &NoProgress).unwrap();
    let bt = model.recommend(&person("anon"), &Placement::BoughtTogether { product: pid("phone") }, 3);
    assert_eq!(bt[0].product_id.as_str(), "case", "{bt:?}");
    assert_eq!(bt[0].source, Source::BoughtTogether);
    // Similar = behaviour (wipes, always bought with nappies) + content
    // (the bottle: same category and price band): both baby items first.
    let similar = model.similar(&pid("nappies"), 3);
    let mut top2 = ids(&similar)[..2].to_vec();
    top2.sort();
    assert_eq!(top2, ["bottle", "wipes"], "{similar:?}");
    let cart = model.recommend(&person("tech1"), &Placement::Cart { items: vec![pid("nappies")] }, 2);
    assert!(!ids(&cart).contains(&"nappies"), "cart items never come back: {cart:?}");
    assert_eq!(cart[0].product_id.as_str(), "wipes", "{cart:?}");
    // A tech person who viewed nothing else is offered the charger first
    // (their community's item), not the baby items.
    let home = model.recommend(&person("tech1"), &Placement::Home, 2);
    assert_eq!(home[0].product_id.as_str(), "charger", "{home:?}");
    // Unknown people get popular items (cold start), never an empty list.
    let cold = model.recommend(&person("nobody"), &Placement::Home, 4);
    assert_eq!(cold.len(), 4, "{cold:?}");
    // Serde-ready serving types.
    let json = serde_json::to_value(&home[0]).unwrap();
    assert_eq!(json["product_id"], "charger");
    assert!(json["source"].is_string());
    let placement: Placement = serde_json::from_str(r#"{"placement":"cart","items":["phone"]}"#).unwrap();
    assert_eq!(placement, Placement::Cart { items: vec![pid("phone")] });
}

#[test]
fn a_bought_durable_never_returns_and_out_of_stock_never_appears() {
    let (interactions, mut products) = two_communities();
    // The charger goes out of stock; the bottle is pinned everywhere.
    products[2].in_stock = false;
    let mut config = RecommendConfig::default();
    for placement in ["home", "cart", "order", "similar", "bought_together"] {
        config.pins.push(Pin { placement: placement.into(), product: pid("charger"), position: 0 });
        config.pins.push(Pin { placement: placement.into(), product: pid("phone"), position: 1 });
    }
    let model = Recommender::train(&interactions, &products, &config, None, &NoProgress).unwrap();
    let placements = [
        Placement::Home,
        Placement::Cart { items: vec![pid("case")] },
        Placement::Order { items: vec![pid("wipes")] },
        Placement::Similar { product: pid("case") },
        Placement::BoughtTogether { product: pid("case") },
    ];
    let later = t0() + Duration::days(400);
    for who in ["tech0", "tech3", "baby2", "nobody"] {
        for placement in &placements {
            for now in [model.as_of(), later] {
                let list = model.recommend_at(Some(&person(who)), placement, 10, now);
                let got = ids(&list);
                assert!(!got.contains(&"charger"), "{who} {placement:?}: out of stock shown {got:?}");
                if who.starts_with("tech") {
                    assert!(!got.contains(&"phone"), "{who} {placement:?}: bought durable shown {got:?}");
                    assert!(!got.contains(&"case"), "{who} {placement:?}: bought durable shown {got:?}");
                }
            }
        }
    }
    // The pin still works for people who did not buy the phone.
    let list = model.recommend(&person("baby2"), &Placement::Home, 5);
    assert_eq!(list[1].product_id.as_str(), "phone", "{list:?}");
    assert_eq!(list[1].source, Source::Pinned);
}

#[test]
fn consumables_come_back_near_their_replenishment_date() {
    // Everyone re-buys nappies every 30 days.
    let mut v = Vec::new();
    for u in 0..10 {
        for k in 0..4 {
            v.push(buy(&format!("p{u}"), "nappies", k * 30 + u, &format!("o{u}-{k}")));
        }
        v.push(buy(&format!("p{u}"), "stroller", u, &format!("s{u}")));
        v.push(view(&format!("p{u}"), "wipes", 95));
    }
    let products = vec![
        product("nappies", "母婴", 120, true, true),
        product("stroller", "母婴", 900, false, true),
        product("wipes", "母婴", 30, true, true),
    ];
    let model = Recommender::train(&v, &products, &RecommendConfig::default(), None, &NoProgress).unwrap();
    let p0 = person("p0");
    // p0 last bought nappies on day 90.
    let at = |day| ids(&model.recommend_at(Some(&p0), &Placement::Home, 3, t0() + Duration::days(day))).join(",");
    assert!(!at(95).contains("nappies"), "5 days after buying: too early ({})", at(95));
    let due = model.recommend_at(Some(&p0), &Placement::Home, 3, t0() + Duration::days(118));
    assert_eq!(due[0].product_id.as_str(), "nappies", "{due:?}");
    assert_eq!(due[0].source, Source::Replenishment);
    assert!(!at(118).contains("stroller"), "a bought durable never returns");
}

#[test]
fn diversity_caps_a_category_unless_the_list_would_be_short() {
    let mut v = Vec::new();
    let mut products = Vec::new();
    for i in 0..8 {
        products.push(product(&format!("dress{i}"), "女装", 200, false, true));
        for u in 0..(20 - i) {
            v.push(view(&format!("u{u}"), &format!("dress{i}"), 1));
        }
    }
    products.push(product("lipstick", "美妆", 150, false, true));
    v.push(view("u1", "lipstick", 1));
    let config = RecommendConfig { max_per_category: 2, ..RecommendConfig::default() };
    let model = Recommender::train(&v, &products, &config, None, &NoProgress).unwrap();
    let list = model.recommend(&person("new"), &Placement::Home, 3);
    let dresses = list.iter().filter(|r| r.category.as_deref() == Some("女装")).count();
    assert_eq!(dresses, 2, "{list:?}");
    assert!(ids(&list).contains(&"lipstick"));
    let long = model.recommend(&person("new"), &Placement::Home, 9);
    assert_eq!(long.len(), 9, "filled past the cap when short: {long:?}");
}

#[test]
fn model_survives_save_and_load() {
    let (interactions, products) = two_communities();
    let model = Recommender::train(&interactions, &products, &RecommendConfig::default(), None, &NoProgress).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(cohort_recommend::MODEL_FILE);
    model.save(&path).unwrap();
    let loaded = Recommender::load(&path).unwrap();
    for who in ["tech1", "baby3", "nobody"] {
        assert_eq!(
            loaded.recommend(&person(who), &Placement::Home, 5),
            model.recommend(&person(who), &Placement::Home, 5)
        );
    }
    assert_eq!(loaded.summary(), model.summary());
    std::fs::write(&path, "{}").unwrap();
    assert!(Recommender::load(&path).unwrap_err().to_string().contains("not a Cohort recommender model"));
}

/// Postage, fees and manual adjustments of Online Retail: not merchandise.
const ONLINE_RETAIL_NON_PRODUCTS: &[&str] =
    &["POST", "DOT", "M", "m", "C2", "D", "S", "B", "CRUK", "PADS", "BANK CHARGES", "AMAZONFEE"];

#[test]
fn online_retail_hybrid_beats_popularity_on_a_time_split() {
    let Some(file) = cohort_testkit::dataset(cohort_testkit::ONLINE_RETAIL) else { return };
    let store = cohort_store::MemoryStore::new();
    cohort_collect::import::import_file(
        &store,
        &cohort_collect::import::Source::online_retail(),
        &file,
        &cohort_collect::import::ImportOptions::default(),
        &cohort_collect::import::NoProgress,
    )
    .unwrap();
    let interactions = interactions_from_store(&store).unwrap();
    let products = cohort_store::EventStore::products(&store).unwrap();
    let config = RecommendConfig {
        hidden: ONLINE_RETAIL_NON_PRODUCTS.iter().map(|s| pid(s)).collect(),
        ..RecommendConfig::default()
    };
    // Train to 2011-11-01 (UK), test on the rest (to 2011-12-09).
    let cut_off = Utc.with_ymd_and_hms(2011, 11, 1, 0, 0, 0).unwrap();
    let opts = EvalOptions { cut_off, test_end: None, k: 10 };
    let report = evaluate(&interactions, &products, &config, &opts, &NoProgress).unwrap();
    println!(
        "Online Retail, cut-off {cut_off}: {} training interactions, {} people evaluated ({} new people skipped), \
         {} relevant pairs, trained in {:.1}s\n{}",
        report.train_interactions,
        report.people,
        report.cold_people,
        report.relevant_pairs,
        report.train_seconds,
        report.table()
    );
    let ndcg = |s: &str| report.get(s).unwrap().ndcg;
    assert!(report.people > 1000, "{}", report.people);
    assert!(ndcg("hybrid") > ndcg("popularity_baseline"), "hybrid must beat popularity on NDCG@10");
    assert!(ndcg("hybrid") > 1.2 * ndcg("popularity_baseline"), "by a clear margin");
    assert!(report.get("hybrid").unwrap().coverage > report.get("popularity_baseline").unwrap().coverage);
}

/// The Taobao prefix (815 people, 9 days, 55k items): train to 2017-12-01
/// 00:00 Beijing time, test on the last three days' purchases.
#[test]
fn taobao_prefix_time_split() {
    let Some(file) = cohort_testkit::dataset(cohort_testkit::TAOBAO) else { return };
    let store = cohort_store::MemoryStore::new();
    cohort_collect::import::import_file(
        &store,
        &cohort_collect::import::Source::Taobao,
        &file,
        &cohort_collect::import::ImportOptions::default(),
        &cohort_collect::import::NoProgress,
    )
    .unwrap();
    let interactions = interactions_from_store(&store).unwrap();
    let products = cohort_store::EventStore::products(&store).unwrap();
    let cut_off = Utc.with_ymd_and_hms(2017, 11, 30, 16, 0, 0).unwrap();
    let opts = EvalOptions { cut_off, test_end: None, k: 10 };
    let report = evaluate(&interactions, &products, &RecommendConfig::default(), &opts, &NoProgress).unwrap();
    println!(
        "Taobao prefix, cut-off {cut_off}: {} training interactions, {} people evaluated ({} new people skipped), \
         {} relevant pairs, trained in {:.1}s\n{}",
        report.train_interactions,
        report.people,
        report.cold_people,
        report.relevant_pairs,
        report.train_seconds,
        report.table()
    );
    let ndcg = |s: &str| report.get(s).unwrap().ndcg;
    for s in ["popularity_baseline", "co_occurrence", "als", "content", "popularity_category", "hybrid"] {
        println!("{s}: NDCG@10 {:.4}", ndcg(s));
    }
    assert_eq!((report.people, report.relevant_pairs), (313, 581));
    // 55k items for 815 people: the ten most popular items are almost never
    // what a person buys next (baseline NDCG@10 is 0 here), while people
    // often buy what they viewed or carted before, which ALS and
    // co-occurrence pick up.
    assert!(ndcg("hybrid") > ndcg("popularity_baseline"), "hybrid must beat popularity on NDCG@10");
    assert!(ndcg("hybrid") > 0.05, "{}", ndcg("hybrid"));
    for s in ["co_occurrence", "als", "content", "popularity_category"] {
        assert!(ndcg("hybrid") >= ndcg(s), "the hybrid is at least its best source ({s})");
    }
}

/// A model refreshed through a [`BasketIndex`] with the orders after its
/// cut-off has exactly the "bought together" lists of a model trained on
/// everything (the Online Retail check is in the crate's unit tests).
#[test]
fn incremental_bought_together_equals_a_full_retrain() {
    use cohort_recommend::BasketIndex;
    let (mut v, products) = two_communities();
    // Later orders: two phone + charger baskets, and an order of tech3 that
    // gains a line in a later batch.
    let later = vec![
        buy("tech1", "phone", 10, "t20"),
        buy("tech1", "charger", 10, "t20"),
        buy("tech2", "charger", 11, "t21"),
        buy("tech2", "case", 11, "t21"),
        buy("tech3", "bottle", 12, "t22"),
    ];
    let late_line = buy("tech3", "case", 12, "t22");
    v.extend(later.iter().cloned());
    v.push(late_line.clone());
    let config = RecommendConfig::default();
    let full = Recommender::train(&v, &products, &config, None, &NoProgress).unwrap();
    let mut model = Recommender::train(&v, &products, &config, Some(t0() + Duration::days(9)), &NoProgress).unwrap();
    assert_eq!(model.bought_together_of(&pid("phone")), [(pid("case"), 1.0)]);

    let mut index = BasketIndex::new(config.neighbours, config.max_items_per_user);
    index.add_purchases(&v[..v.len() - later.len() - 1], &config.hidden);
    let refreshed = index.add_purchases(&later, &config.hidden);
    assert_eq!(model.refresh_bought_together(&index, &refreshed), refreshed.len());
    let refreshed = index.add_purchases(std::slice::from_ref(&late_line), &config.hidden);
    assert_eq!(refreshed, [pid("bottle"), pid("case"), pid("charger"), pid("phone")]);
    model.refresh_bought_together(&index, &refreshed);

    // phone: 21 baskets (20 + t20), case: 22 (20 + t21 + t22):
    // phone–case 20/√(21·22).
    let phone = model.bought_together_of(&pid("phone"));
    assert_eq!(phone, full.bought_together_of(&pid("phone")));
    assert_eq!(phone[0], (pid("case"), (20.0 / (21.0f64 * 22.0).sqrt()) as f32));
    for p in &products {
        assert_eq!(model.bought_together_of(&p.id), full.bought_together_of(&p.id), "{}", p.id);
    }
    assert_eq!(index.baskets(), full.summary().baskets);
}
