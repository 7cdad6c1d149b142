//! FP-growth and association rules: hand-computed small baskets, a brute
//! force cross-check, baskets from a store, and the published counts on
//! the arules Groceries data.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use cohort_mining::{
    also_bought, association_rules, bundles, fp_growth, min_count, BasketLevel, BasketOptions, BasketUnit, Baskets,
};
use cohort_model::{
    Batch, Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Product, ProductId,
};
use cohort_store::{EventStore, MemoryStore, WriteSource};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// The textbook five baskets.
fn shop() -> Baskets {
    Baskets::from_labels([
        vec!["bread", "milk"],
        vec!["bread", "diapers", "beer", "eggs"],
        vec!["milk", "diapers", "beer", "cola"],
        vec!["bread", "milk", "diapers", "beer"],
        vec!["bread", "milk", "diapers", "cola"],
    ])
}

#[test]
fn hand_computed_itemsets_and_rules() {
    let baskets = shop();
    let id = |l: &str| baskets.item(l).unwrap();
    let sets = fp_growth(baskets.transactions(), 0.6, None).unwrap();
    assert_eq!(sets.min_count, 3);
    // bread 4, milk 4, diapers 4, beer 3; {bread,milk} {bread,diapers} {milk,diapers} {diapers,beer} 3 each.
    assert_eq!(sets.count_by_size(), vec![4, 4]);
    let count: HashMap<Vec<u32>, u64> = sets.itemsets.iter().map(|s| (s.items.clone(), s.count)).collect();
    let mut pair = vec![id("diapers"), id("beer")];
    pair.sort();
    assert_eq!(count[&pair], 3);
    assert_eq!(count[&vec![id("beer")]], 3);

    let rules = association_rules(&sets, 0.75, 1).unwrap();
    assert_eq!(rules.len(), 8, "both directions of the four pairs reach 3/4");
    // beer ⇒ diapers: support 3/5, confidence 3/3, lift 1 / (4/5) = 1.25, conviction ∞.
    let top = &rules[0];
    assert_eq!((top.antecedent.clone(), top.consequent.clone()), (vec![id("beer")], vec![id("diapers")]));
    assert!(close(top.support, 0.6) && close(top.confidence, 1.0) && close(top.lift, 1.25));
    assert!(close(top.leverage, 0.6 - 0.6 * 0.8));
    assert_eq!(top.conviction, None);
    // diapers ⇒ beer: confidence 3/4, lift 0.75 / 0.6 = 1.25, conviction (1 − 0.6) / (1 − 0.75) = 1.6.
    let second = &rules[1];
    assert_eq!((second.antecedent.clone(), second.consequent.clone()), (vec![id("diapers")], vec![id("beer")]));
    assert!(close(second.confidence, 0.75) && close(second.lift, 1.25));
    assert!(close(second.conviction.unwrap(), 1.6));
    // bread ⇒ milk: confidence 3/4, lift 0.75 / 0.8 = 0.9375, conviction 0.2 / 0.25 = 0.8.
    let bread_milk = rules.iter().find(|r| r.antecedent == [id("bread")] && r.consequent == [id("milk")]).unwrap();
    assert!(close(bread_milk.lift, 0.9375) && close(bread_milk.conviction.unwrap(), 0.8));
    assert!(close(bread_milk.leverage, 0.6 - 0.8 * 0.8));

    assert_eq!(association_rules(&sets, 0.8, 1).unwrap().len(), 1, "only beer ⇒ diapers");

    let list = also_bought(&sets, id("diapers"), 0.0, 10);
    assert_eq!(list[0].item, id("beer"));
    assert!(close(list[0].confidence, 0.75) && close(list[0].lift, 1.25));
    assert_eq!(list.len(), 3);
}

#[test]
fn multi_item_consequents_and_max_len() {
    let baskets = shop();
    let sets = fp_growth(baskets.transactions(), 0.4, None).unwrap();
    // min count 2: 5 items (eggs 1 is out), 9 pairs... checked against brute force below; here the shape.
    assert_eq!(sets.min_count, 2);
    let one = association_rules(&sets, 0.0, 1).unwrap();
    let all = association_rules(&sets, 0.0, usize::MAX).unwrap();
    let triples = sets.itemsets.iter().filter(|s| s.items.len() == 3).count();
    let pairs = sets.itemsets.iter().filter(|s| s.items.len() == 2).count();
    assert_eq!(one.len(), 2 * pairs + 3 * triples);
    assert_eq!(all.len(), 2 * pairs + 6 * triples);
    let capped = fp_growth(baskets.transactions(), 0.4, Some(2)).unwrap();
    assert_eq!(capped.itemsets.len(), sets.itemsets.len() - triples);
}

/// Every subset of every basket, counted directly.
fn brute_force(baskets: &[Vec<u32>], min_count: u64) -> Vec<(Vec<u32>, u64)> {
    let mut counts: HashMap<Vec<u32>, u64> = HashMap::new();
    for basket in baskets {
        let mut items = basket.clone();
        items.sort();
        items.dedup();
        for mask in 1u32..(1 << items.len()) {
            let subset: Vec<u32> = (0..items.len()).filter(|i| mask & (1 << i) != 0).map(|i| items[i]).collect();
            *counts.entry(subset).or_default() += 1;
        }
    }
    let mut out: Vec<_> = counts.into_iter().filter(|(_, c)| *c >= min_count).collect();
    out.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
    out
}

#[test]
fn fp_growth_matches_brute_force_on_random_baskets() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for round in 0..20 {
        let items = 4 + next(12);
        let baskets: Vec<Vec<u32>> = (0..50 + next(150))
            .map(|_| (0..1 + next(9)).map(|_| (next(items) * next(items) / items) as u32).collect())
            .collect();
        for support in [0.01, 0.05, 0.2] {
            let sets = fp_growth(&baskets, support, None).unwrap();
            let got: Vec<(Vec<u32>, u64)> = sets.itemsets.iter().map(|s| (s.items.clone(), s.count)).collect();
            assert_eq!(got, brute_force(&baskets, sets.min_count), "round {round}, support {support}");
        }
    }
}

#[test]
fn thresholds() {
    assert_eq!(min_count(0.001, 9835), 10);
    assert_eq!(min_count(0.006, 9835), 60);
    assert_eq!(min_count(0.6, 5), 3);
    assert_eq!(min_count(1.0, 7), 7);
    assert!(fp_growth(&[vec![1]], 0.0, None).is_err());
    assert!(fp_growth(&[vec![1]], 1.5, None).is_err());
    assert!(fp_growth(&[], 0.5, None).is_err());
    let sets = fp_growth(&[vec![1]], 0.5, None).unwrap();
    assert!(association_rules(&sets, 1.2, 1).is_err());
}

fn order(id: &str, person: &str, kind: OrderKind, lines: &[(&str, i64, i64)]) -> Order {
    Order {
        id: OrderId::new(id).unwrap(),
        kind,
        person_id: Some(PersonId::new(person).unwrap()),
        user_id: None,
        anonymous_id: None,
        placed_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
        platform: None,
        channel: None,
        total: Money::ZERO,
        discount: Money::ZERO,
        shipping: Money::ZERO,
        coupon: None,
        refund_of: None,
        properties: Default::default(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, &(p, q, price))| OrderLine {
                line_no: i as u32,
                product_id: ProductId::new(p).unwrap(),
                quantity: q,
                unit_price: Money::from_fen(price),
                category: None,
            })
            .collect(),
    }
}

#[test]
fn baskets_from_a_store_per_order_and_per_user() {
    let store = MemoryStore::new();
    let mut batch = Batch::default();
    for (id, category) in [("tea", "drinks"), ("cup", "kitchen"), ("milk", "drinks"), ("pot", "kitchen")] {
        let mut p = Product::new(ProductId::new(id).unwrap());
        p.category = Some(category.into());
        batch.products.push(p);
    }
    batch.orders = vec![
        order("o1", "alice", OrderKind::Purchase, &[("tea", 1, 3000), ("cup", 2, 1500)]),
        order("o2", "alice", OrderKind::Purchase, &[("milk", 1, 800), ("tea", 0, 3000)]),
        order("o3", "bob", OrderKind::Purchase, &[("tea", 1, 3000), ("cup", 1, 1500)]),
        order("r1", "bob", OrderKind::Refund, &[("pot", 1, 9000), ("tea", 1, 3000)]),
        order("o4", "bob", OrderKind::Purchase, &[("pot", 1, 9000), ("milk", 1, 800)]),
    ];
    let mut cancel = Event::new(
        EventId::new("e1").unwrap(),
        Some(PersonId::new("bob").unwrap()),
        EventName::OrderCancelled,
        Utc.with_ymd_and_hms(2025, 6, 1, 13, 0, 0).unwrap(),
    );
    cancel.order_id = Some(OrderId::new("o4").unwrap());
    batch.events.push(cancel);
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(1).unwrap();

    let per_order = Baskets::from_store(&store, BasketOptions::default()).unwrap();
    let labels = |b: &Baskets| -> Vec<Vec<String>> {
        b.transactions().iter().map(|t| t.iter().map(|&i| b.label(i).to_string()).collect()).collect()
    };
    // o2 keeps milk only (tea has quantity 0); r1 is a refund; o4 was cancelled.
    assert_eq!(labels(&per_order), vec![vec!["cup", "tea"], vec!["milk"], vec!["cup", "tea"]]);
    let tea = per_order.item("tea").unwrap();
    assert_eq!(per_order.revenue_fen(tea), 6000);
    assert_eq!(per_order.mean_price_fen(per_order.item("cup").unwrap()), Some(1500));

    let per_user =
        Baskets::from_store(&store, BasketOptions { level: BasketLevel::Product, per: BasketUnit::User }).unwrap();
    assert_eq!(labels(&per_user), vec![vec!["cup", "milk", "tea"], vec!["cup", "tea"]]);

    let categories =
        Baskets::from_store(&store, BasketOptions { level: BasketLevel::Category, per: BasketUnit::Order }).unwrap();
    assert_eq!(labels(&categories), vec![vec!["drinks", "kitchen"], vec!["drinks"], vec!["drinks", "kitchen"]]);

    // cup + tea in 2 of 3 orders: lift (2/3) / ((2/3)(2/3)) = 1.5, price 45 yuan, revenue 2 × 4500.
    let sets = fp_growth(per_order.transactions(), 0.5, None).unwrap();
    let offers = bundles(&sets, &per_order, 1.0, 5);
    assert_eq!(offers.len(), 1);
    assert!(close(offers[0].lift, 1.5));
    assert_eq!((offers[0].price_fen, offers[0].revenue_fen), (Some(4500), 9000));
    assert!(close(offers[0].score, 13500.0));
}

#[test]
fn transactions_file_reads_plain_text() {
    let dir = std::env::temp_dir().join(format!("cohort-mining-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    std::fs::write(&path, "a,b,c\n\nb,c\nc,c ,\r\n").unwrap();
    let baskets = Baskets::read_transactions(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(baskets.len(), 3);
    assert_eq!(baskets.item_count(), 4, "`c ` keeps its space, as in arules");
    assert!(Baskets::read_transactions(&dir.join("missing.csv")).is_err());
}

/// The published reference counts (arules docs, Lantz's book, mlxtend).
#[test]
fn groceries_reference_counts() {
    let Some(path) = cohort_testkit::dataset(cohort_testkit::GROCERIES) else {
        return;
    };
    let baskets = Baskets::read_transactions(&path).unwrap();
    assert_eq!((baskets.len(), baskets.item_count()), (9835, 169));

    let started = Instant::now();
    let sets = fp_growth(baskets.transactions(), 0.001, None).unwrap();
    let mined = started.elapsed();
    let rules = association_rules(&sets, 0.5, 1).unwrap();
    eprintln!("groceries at support 0.001: fp-growth {mined:?}, rules {:?} in all", started.elapsed());
    assert_eq!(sets.itemsets.len(), 13_492);
    assert_eq!(sets.count_by_size(), vec![157, 2_981, 6_831, 3_137, 376, 10]);
    assert_eq!(rules.len(), 5_668);
    assert_eq!(association_rules(&sets, 0.5, usize::MAX).unwrap().len(), 5_829);

    let sets = fp_growth(baskets.transactions(), 0.006, None).unwrap();
    assert_eq!(sets.itemsets.len(), 747);
    assert_eq!(sets.count_by_size(), vec![109, 478, 156, 4]);
    assert_eq!(association_rules(&sets, 0.25, 1).unwrap().len(), 463);
    assert_eq!(association_rules(&sets, 0.25, usize::MAX).unwrap().len(), 467);

    let sets = fp_growth(baskets.transactions(), 0.01, None).unwrap();
    assert_eq!((sets.itemsets.len(), association_rules(&sets, 0.5, 1).unwrap().len()), (333, 15));

    let milk = baskets.item("whole milk").unwrap();
    let milk_count = sets.itemsets.iter().find(|s| s.items == [milk]).unwrap().count;
    assert_eq!(milk_count, 2513);
}
