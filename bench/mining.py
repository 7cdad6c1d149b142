#!/usr/bin/env python3
"""Mining benchmark (issue 6): Cohort's FP-growth + association rules vs
mlxtend on the same baskets in one run, with the rule sets checked equal;
optionally Cohort's review-sentiment classifier vs scikit-learn.

1. Baskets: the arules Groceries file as it is, and Online Retail invoices
   (one basket per invoice: invoices starting with C — cancellations — and
   lines with quantity <= 0 left out; items are stock codes) written to
   bench/out/mining/online_retail_baskets.csv.gz. Both sides read the same
   file.
2. Cohort: `cargo run --release -p cohort-mining --example basket_rules`
   (built here unless --no-build) times FP-growth and the rules in process,
   median of --repeats runs, and prints every rule.
3. mlxtend: TransactionEncoder, `fpgrowth` and `association_rules` (metric
   confidence), timed in this process, median of --mlxtend-repeats runs.
   Rules of every consequent size are compared (Cohort runs with no limit on
   the right-hand side, as mlxtend): the same antecedent/consequent pairs,
   and support, confidence and lift within 1e-9.
4. --sentiment: the held-out split of cn_shopping_reviews (same seeded
   stratified split as Cohort: SplitMix64, 20% per category and label),
   jieba (Python) + scikit-learn TfidfVectorizer (words + bigrams, sublinear
   tf, min_df 2) + LogisticRegression, against `cohort reviews`' figures from
   the sentiment_eval example.

    python3 -m pip install -r bench/requirements.txt   # mlxtend, pandas, (scikit-learn, jieba)
    python3 bench/mining.py [--repeats 5] [--mlxtend-repeats 3] [--sentiment]

Results go to bench/out/mining.json; the ratios are printed. Exit status 1
when a rule set differs.
"""

import argparse
import csv
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("COHORT_DATA_DIR", ROOT.parent / "shared" / "data"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "cohort" / "target-lite"))
TOL = 1e-9


def online_retail_baskets(out: Path) -> Path:
    """One line per invoice, distinct stock codes comma-separated."""
    if out.exists():
        return out
    baskets: dict[str, list[str]] = {}
    with gzip.open(DATA / "uci_online_retail" / "online_retail.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            inv, code = row["InvoiceNo"].strip(), row["StockCode"].strip()
            if not inv or inv.startswith("C") or not code or "," in code:
                continue
            try:
                if float(row["Quantity"]) <= 0:
                    continue
            except ValueError:
                continue
            items = baskets.setdefault(inv, [])
            if code not in items:
                items.append(code)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for inv in sorted(baskets):
            f.write(",".join(baskets[inv]) + "\n")
    return out


def read_baskets(path: Path) -> list[list[str]]:
    """As Cohort's Baskets::read_transactions: empty lines skipped, blank
    labels dropped, labels kept as written, duplicates once."""
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                continue
            out.append(list(dict.fromkeys(x for x in line.split(",") if x.strip())))
    return out


def build_example(name: str) -> Path:
    exe = TARGET / "release" / "examples" / name
    cmd = ["cargo", "build", "--release", "-p", "cohort-mining", "--example", name]
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    subprocess.run(cmd, cwd=ROOT, check=True, env=env)
    return exe


def cohort_rules(exe: Path, path: Path, support: float, confidence: float, repeats: int) -> dict:
    t = time.perf_counter()
    res = subprocess.run([str(exe), str(path), str(support), str(confidence), "1000000", str(repeats)],
                         check=True, capture_output=True, text=True)
    out = json.loads(res.stdout)
    out["process_s"] = time.perf_counter() - t
    return out


def mlxtend_rules(baskets: list[list[str]], support: float, confidence: float, repeats: int) -> dict:
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    enc_s, fp_s, rules_s = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        te = TransactionEncoder()
        df = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
        enc_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        sets = fpgrowth(df, min_support=support, use_colnames=True)
        fp_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        rules = association_rules(sets, num_itemsets=len(df), metric="confidence", min_threshold=confidence)
        rules_s.append(time.perf_counter() - t)
    rule_list = {
        (frozenset(a), frozenset(c)): (s, conf, lift)
        for a, c, s, conf, lift in zip(rules["antecedents"], rules["consequents"], rules["support"],
                                       rules["confidence"], rules["lift"])
    }
    return {
        "itemsets": len(sets), "rules": len(rules), "encode_ms": statistics.median(enc_s) * 1e3,
        "fpgrowth_ms": statistics.median(fp_s) * 1e3, "rules_ms": statistics.median(rules_s) * 1e3,
        "rule_map": rule_list,
    }


def compare(cohort: dict, mlx: dict) -> dict:
    ours = {(frozenset(r["antecedent"]), frozenset(r["consequent"])): (r["support"], r["confidence"], r["lift"])
            for r in cohort["rule_list"]}
    theirs = mlx["rule_map"]
    only_cohort, only_mlx = len(ours.keys() - theirs.keys()), len(theirs.keys() - ours.keys())
    worst = [0.0, 0.0, 0.0]
    for k in ours.keys() & theirs.keys():
        for i in range(3):
            worst[i] = max(worst[i], abs(ours[k][i] - theirs[k][i]))
    same = only_cohort == 0 and only_mlx == 0 and all(w <= TOL for w in worst) and cohort["itemsets"] == mlx["itemsets"]
    return {"identical": same, "only_cohort": only_cohort, "only_mlxtend": only_mlx,
            "max_diff_support": worst[0], "max_diff_confidence": worst[1], "max_diff_lift": worst[2]}


def run_baskets(args) -> list[dict]:
    exe = args.cohort_example or build_example("basket_rules")
    work = ROOT / "bench" / "out" / "mining"
    cases = [
        ("groceries", DATA / "groceries_arules" / "groceries.csv.gz", 0.001, 0.5),
        ("groceries", DATA / "groceries_arules" / "groceries.csv.gz", 0.006, 0.25),
        ("online_retail", online_retail_baskets(work / "online_retail_baskets.csv.gz"), 0.02, 0.5),
        ("online_retail", online_retail_baskets(work / "online_retail_baskets.csv.gz"), 0.01, 0.5),
    ]
    results, cache = [], {}
    for name, path, sup, conf in cases:
        baskets = cache.setdefault(path, read_baskets(path))
        c = cohort_rules(Path(exe), path, sup, conf, args.repeats)
        m = mlxtend_rules(baskets, sup, conf, args.mlxtend_repeats)
        cmp = compare(c, m)
        c_ms, m_ms = c["fpgrowth_ms"] + c["rules_ms"], m["fpgrowth_ms"] + m["rules_ms"]
        row = {
            "data": name, "baskets": c["baskets"], "items": c["items"], "min_support": sup, "min_confidence": conf,
            "itemsets": c["itemsets"], "rules": c["rules"], "mlxtend_itemsets": m["itemsets"],
            "mlxtend_rules": m["rules"],
            "cohort_ms": {"fpgrowth": c["fpgrowth_ms"], "rules": c["rules_ms"], "read_file": c["read_ms"],
                          "process": c["process_s"] * 1e3},
            "mlxtend_ms": {"fpgrowth": m["fpgrowth_ms"], "rules": m["rules_ms"], "encode": m["encode_ms"]},
            "ratio_mining": m_ms / c_ms,
            "ratio_fpgrowth": m["fpgrowth_ms"] / c["fpgrowth_ms"],
            "ratio_with_input": (m_ms + m["encode_ms"]) / (c_ms + c["read_ms"]),
            **cmp,
        }
        results.append(row)
        print(f"{name:13s} sup {sup:<6} conf {conf:<5} {c['baskets']:>6} baskets: {c['itemsets']:>6} itemsets "
              f"{c['rules']:>6} rules | Cohort {c_ms:8.1f} ms, mlxtend {m_ms:9.1f} ms → {row['ratio_mining']:6.1f}× "
              f"(FP-growth alone {row['ratio_fpgrowth']:.1f}×, with file read / encoding "
              f"{row['ratio_with_input']:.1f}×) | identical rules: {cmp['identical']} "
              f"(max Δ support {cmp['max_diff_support']:.1e}, confidence {cmp['max_diff_confidence']:.1e}, "
              f"lift {cmp['max_diff_lift']:.1e})", flush=True)
    return results


def splitmix(x: int) -> int:
    m = (1 << 64) - 1
    x = (x + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def run_sentiment(args) -> dict:
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    exe = args.sentiment_example or build_example("sentiment_eval")
    path = DATA / "cn_shopping_reviews" / "online_shopping_10_cats.csv.gz"
    t = time.perf_counter()
    res = subprocess.run([str(exe), str(path)], check=True, capture_output=True, text=True)
    cohort_s = time.perf_counter() - t
    cohort_eval = json.loads(res.stdout[res.stdout.index("{"):])

    rows = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            text = r["review"].lstrip("\ufeff").strip()
            if text:
                rows.append((r["cat"], r["label"] == "1", text))
    strata: dict = {}
    for i, (cat, pos, _) in enumerate(rows):
        strata.setdefault((cat, pos), []).append(i)
    seed, test = 20_240_601, set()
    for idx in strata.values():
        idx.sort(key=lambda i: (splitmix(seed ^ splitmix(i)), i))
        test.update(idx[: round(0.2 * len(idx))])
    jieba.setLogLevel(60)
    t = time.perf_counter()
    docs = [" ".join(w for w in jieba.cut(text) if w.strip()) for _, _, text in rows]
    seg_s = time.perf_counter() - t
    tr = [i for i in range(len(rows)) if i not in test]
    te = sorted(test)
    t = time.perf_counter()
    vec = TfidfVectorizer(token_pattern=r"(?u)[^ ]+", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_tr = vec.fit_transform([docs[i] for i in tr])
    clf = LogisticRegression(C=10.0, max_iter=1000).fit(x_tr, [rows[i][1] for i in tr])
    fit_s = time.perf_counter() - t
    pred = clf.predict(vec.transform([docs[i] for i in te]))
    truth = [rows[i][1] for i in te]
    out = {
        "held_out": len(te),
        "cohort": {"accuracy": cohort_eval["accuracy"], "f1": cohort_eval["f1"], "process_s": cohort_s},
        "sklearn": {"accuracy": accuracy_score(truth, pred), "f1": f1_score(truth, pred),
                    "segment_s": seg_s, "fit_s": fit_s},
    }
    print(f"sentiment held-out {len(te)}: Cohort accuracy {out['cohort']['accuracy']:.4f} F1 {out['cohort']['f1']:.4f}"
          f" (whole run incl. segmentation {cohort_s:.1f} s) | jieba+scikit-learn accuracy "
          f"{out['sklearn']['accuracy']:.4f} F1 {out['sklearn']['f1']:.4f} (segmentation {seg_s:.1f} s, "
          f"fit {fit_s:.1f} s) → {(seg_s + fit_s) / cohort_s:.1f}× the time", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="Cohort runs per case (median)")
    p.add_argument("--mlxtend-repeats", type=int, default=3, help="mlxtend runs per case (median)")
    p.add_argument("--cohort-example", type=Path, help="a built basket_rules example (else built with cargo)")
    p.add_argument("--sentiment-example", type=Path, help="a built sentiment_eval example (else built)")
    p.add_argument("--sentiment", action="store_true", help="also compare the sentiment classifier with scikit-learn")
    args = p.parse_args()
    results = {"baskets": run_baskets(args)}
    if args.sentiment:
        results["sentiment"] = run_sentiment(args)
    out = ROOT / "bench" / "out" / "mining.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"results: {out}")
    return 0 if all(r["identical"] for r in results["baskets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
