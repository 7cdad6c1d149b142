//! FP-growth + association rules on a transactions file, timed in process,
//! every rule written as JSON — the Cohort side of `bench/mining.py`.
//!
//! `basket_rules FILE MIN_SUPPORT MIN_CONFIDENCE [MAX_CONSEQUENT] [REPEATS]`
//! prints `{baskets, items, itemsets, rules, read_ms, fpgrowth_ms, rules_ms,
//! rule_list: [{antecedent, consequent, support, confidence, lift}]}`;
//! times are the median of REPEATS runs (default 5).

use std::time::Instant;

use cohort_mining::{association_rules, fp_growth, Baskets};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: basket_rules FILE MIN_SUPPORT MIN_CONFIDENCE [MAX_CONSEQUENT] [REPEATS]");
        std::process::exit(2);
    }
    let min_support: f64 = args[2].parse().expect("MIN_SUPPORT");
    let min_confidence: f64 = args[3].parse().expect("MIN_CONFIDENCE");
    let max_consequent: usize = args.get(4).map_or(usize::MAX, |s| s.parse().expect("MAX_CONSEQUENT"));
    let repeats: usize = args.get(5).map_or(5, |s| s.parse().expect("REPEATS")).max(1);

    let started = Instant::now();
    let baskets = Baskets::read_transactions(std::path::Path::new(&args[1])).expect("read transactions");
    let read_ms = started.elapsed().as_secs_f64() * 1e3;

    let (mut fp_ms, mut rules_ms) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..repeats {
        let t = Instant::now();
        let sets = fp_growth(baskets.transactions(), min_support, None).expect("fp-growth");
        fp_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let rules = association_rules(&sets, min_confidence, max_consequent).expect("rules");
        rules_ms.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some((sets, rules));
    }
    let (sets, rules) = last.expect("one run");
    let labels = |items: &[u32]| items.iter().map(|&i| baskets.label(i).to_string()).collect::<Vec<_>>();
    let rule_list: Vec<serde_json::Value> = rules
        .iter()
        .map(|r| {
            serde_json::json!({"antecedent": labels(&r.antecedent), "consequent": labels(&r.consequent),
                "support": r.support, "confidence": r.confidence, "lift": r.lift})
        })
        .collect();
    let out = serde_json::json!({
        "baskets": baskets.len(), "items": baskets.item_count(), "itemsets": sets.itemsets.len(),
        "rules": rules.len(), "read_ms": read_ms, "fpgrowth_ms": median(fp_ms), "rules_ms": median(rules_ms),
        "repeats": repeats, "rule_list": rule_list,
    });
    println!("{out}");
}
