#!/usr/bin/env python3
"""Recommendation benchmark (issue 7): Cohort vs the `implicit` library's ALS
on the same Online Retail time split, then serving latency over loopback.

1. `cargo run --release -p cohort-recommend --example recommend_split`
   trains every Cohort source before the cut-off (2011-11-01), evaluates
   them and exports the split: the training matrix (decayed weights r), and
   per evaluated person the relevant items, the excluded items (bought
   durables) and Cohort's own ALS and hybrid lists.
2. This script trains `implicit`'s ALS on the same matrix with the same
   confidence `1 + alpha*ln(1 + r/epsilon)`, factors, regularisation and
   iterations (and one variant with implicit's usual linear confidence),
   ranks with the same exclusions, and scores every list with one metric
   code. It first re-scores Cohort's lists and checks that it gets Cohort's
   own NDCG@10 (so the two sides are measured alike).
3. `cargo run --release -p cohort-server --example recommend_load` serves
   the model trained on everything and drives it over loopback at a fixed
   rate (open loop, latency from the scheduled send time), then flat out.

    python3 -m pip install -r bench/requirements.txt   # implicit, numpy, scipy
    python3 bench/recommend.py [--rate 5000 --seconds 10 --connections 64]

Results go to bench/out/recommend.json; the ratios are printed.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

# implicit asks for single-threaded BLAS (its own threads do the work).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def cargo_example(package, example, args, env, no_build=False):
    cmd = ["cargo", "run", "--release", "-q", "-p", package, "--example", example, "--"] + args
    if no_build:  # the example already built in CARGO_TARGET_DIR
        cmd = [str(Path(env["CARGO_TARGET_DIR"]) / "release" / "examples" / example)] + args
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)


def metrics(lists, test, k, n_items):
    """The metrics of crates/cohort-recommend/src/eval.rs (binary gains)."""
    p = r = nd = mp = hr = 0.0
    distinct = set()
    for person, items in zip(test, lists):
        relevant = set(person["relevant"])
        n_relevant = len(relevant) + person["unknown"]
        hits, dcg, ap = 0, 0.0, 0.0
        for pos, i in enumerate(items[:k]):
            distinct.add(i)
            if i in relevant:
                hits += 1
                dcg += 1.0 / math.log2(pos + 2)
                ap += hits / (pos + 1)
        ideal = min(n_relevant, k)
        idcg = sum(1.0 / math.log2(q + 2) for q in range(ideal))
        p += hits / k
        r += hits / max(n_relevant, 1)
        nd += dcg / idcg if idcg > 0 else 0.0
        mp += ap / ideal if ideal > 0 else 0.0
        hr += 1.0 if hits > 0 else 0.0
    n = max(len(test), 1)
    return {"precision": p / n, "recall": r / n, "ndcg": nd / n, "map": mp / n, "hit_rate": hr / n,
            "coverage": len(distinct) / max(n_items, 1)}


def top_k(scores, excluded, k):
    """Cohort's single-source ranking: positive scores, exclusions, ties by index."""
    s = scores.astype(np.float64).copy()
    if excluded:
        s[excluded] = -np.inf
    s[s <= 0] = -np.inf
    idx = np.argsort(-s, kind="stable")[:k]
    return [int(i) for i in idx if s[i] > -np.inf]


def run_implicit(split, confidence, use_cg, threads):
    from implicit.als import AlternatingLeastSquares

    als = split["als"]
    train = np.array(split["train"], dtype=np.float64)
    users, items, r = train[:, 0].astype(np.int64), train[:, 1].astype(np.int64), train[:, 2]
    if confidence == "log":
        values = 1.0 + als["alpha"] * np.log1p(r / als["epsilon"])
    else:  # implicit's usual linear confidence, alpha = 40 (Hu et al.)
        values = 1.0 + 40.0 * r
    matrix = sp.csr_matrix((values.astype(np.float32), (users, items)),
                           shape=(len(split["people"]), len(split["items"])))
    model = AlternatingLeastSquares(factors=als["factors"], regularization=als["regularization"],
                                    iterations=als["iterations"], use_cg=use_cg, random_state=als["seed"],
                                    num_threads=threads, calculate_training_loss=False)
    started = time.perf_counter()
    model.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - started
    uf, itf = np.asarray(model.user_factors), np.asarray(model.item_factors)
    lists = [top_k(itf @ uf[t["person"]], t["excluded"], split["k"]) for t in split["test"]]
    return seconds, lists


def serving(args, env, model_file):
    out = Path(args.workdir) / "serving.json"
    cargo_example("cohort-server", "recommend_load",
                  [str(model_file), str(out), str(args.rate), str(args.seconds), str(args.connections)], env,
                  args.no_build)
    return json.loads(out.read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "recommend"))
    ap.add_argument("--reuse-split", action="store_true", help="keep WORKDIR/split.json and the model")
    ap.add_argument("--threads", type=int, default=0, help="implicit's threads (0 = all cores, like Cohort)")
    ap.add_argument("--rate", type=int, default=5000, help="requests per second of the open-loop run")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--skip-serving", action="store_true")
    ap.add_argument("--no-build", action="store_true",
                    help="run the examples already built in CARGO_TARGET_DIR instead of `cargo run`")
    args = ap.parse_args()

    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "cohort" / "target"))
    env.setdefault("COHORT_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    split_file, model_file = work / "split.json", work / "recommend.model.json"
    if not (args.reuse_split and split_file.exists() and model_file.exists()):
        done = cargo_example("cohort-recommend", "recommend_split", [str(split_file), str(model_file)], env,
                             args.no_build)
        print(done.stderr, file=sys.stderr)
    split = json.loads(split_file.read_text())
    k, n_items, test = split["k"], len(split["items"]), split["test"]
    cohort = {row["source"]: row for row in split["report"]["rows"]}

    # Same metric code on both sides: re-scoring Cohort's lists must give Cohort's figures.
    mine = {name: metrics([t[name] for t in test], test, k, n_items) for name in ("als", "hybrid")}
    for name, m in mine.items():
        if abs(m["ndcg"] - cohort[name]["ndcg"]) > 1e-9:
            sys.exit(f"metric mismatch on {name}: python {m['ndcg']:.6f} vs cohort {cohort[name]['ndcg']:.6f}")

    rows = [("cohort hybrid", None, mine["hybrid"]),
            ("cohort ALS", split["als_seconds"], mine["als"])]
    for label, confidence, use_cg in [("implicit ALS (same confidence, CG)", "log", True),
                                      ("implicit ALS (same confidence, exact)", "log", False),
                                      ("implicit ALS (linear 1+40r, CG)", "linear", True)]:
        seconds, lists = run_implicit(split, confidence, use_cg, args.threads)
        rows.append((label, seconds, metrics(lists, test, k, n_items)))

    print(f"\nOnline Retail, cut-off {split['cut_off']}: {len(split['people'])} people, {n_items} items, "
          f"{len(split['train'])} training pairs, {len(test)} people evaluated, k = {k}; "
          f"ALS {split['als']['factors']} factors, {split['als']['iterations']} iterations, "
          f"λ {split['als']['regularization']}, cores {os.cpu_count()}")
    print(f"{'model':<40} {'train s':>8} {'NDCG@10':>8} {'P@10':>7} {'R@10':>7} {'MAP@10':>7} {'HR@10':>7} {'cov':>6}")
    for label, seconds, m in rows:
        s = f"{seconds:8.2f}" if seconds is not None else f"{'':>8}"
        print(f"{label:<40} {s} {m['ndcg']:8.4f} {m['precision']:7.4f} {m['recall']:7.4f} {m['map']:7.4f} "
              f"{m['hit_rate']:7.4f} {m['coverage']:6.3f}")
    best_implicit = max(rows[2:], key=lambda r: r[2]["ndcg"])
    print(f"\nNDCG@10 cohort ALS / implicit ALS (same confidence, CG): {mine['als']['ndcg'] / rows[2][2]['ndcg']:.3f}")
    print(f"NDCG@10 cohort hybrid / best implicit ({best_implicit[0]}): "
          f"{mine['hybrid']['ndcg'] / best_implicit[2]['ndcg']:.3f}")
    print(f"training time implicit (same confidence, CG) / cohort ALS: {rows[2][1] / split['als_seconds']:.3f}")

    result = {"split": {"people": len(split["people"]), "items": n_items, "train_pairs": len(split["train"]),
                        "evaluated": len(test), "k": k, "cut_off": split["cut_off"]},
              "models": [{"model": label, "train_seconds": s, **m} for label, s, m in rows]}
    if not args.skip_serving:
        serve = serving(args, env, model_file)
        result["serving"] = serve
        for run in serve["runs"]:
            print(f"serving {run['mode']:<10} {run['requests']:>7} requests in {run['seconds']:.1f}s: "
                  f"{run['throughput']:.0f}/s, p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
                  f"max {run['max_ms']:.1f} ms, errors {run['errors']}, impressions stored {run.get('impressions')}")
        fixed = next(r for r in serve["runs"] if r["mode"] == "open_loop")
        print(f"p99 at {args.rate}/s: {fixed['p99_ms']:.2f} ms (goal ≤ 5 ms): "
              f"{'met' if fixed['p99_ms'] <= 5 and fixed['errors'] == 0 else 'NOT met'}")
    (work / "recommend.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
