#!/usr/bin/env python3
"""Prediction benchmark (issue 6): Cohort's K-means and logistic regression
vs scikit-learn on the same feature matrices, in one run.

1. `cargo run --release -p cohort-predict --example predict_bench` builds the
   matrices (Online Retail buyers' behaviour features at the data end;
   Online Retail churn features at the training and evaluation cut-offs,
   standardised on the training rows; synthetic Gaussian blobs and a planted
   logistic model, --rows each), writes them as CSV to bench/out/predict/,
   and times Cohort on them in process (median of --repeats).
2. scikit-learn reads the same CSVs and is timed in this process (median of
   --repeats): `KMeans(n_clusters=k, init="k-means++", n_init=10,
   max_iter=300, random_state=42)` (Lloyd) and `LogisticRegression(C=1.0,
   lbfgs, max_iter=1000)` — the same objective as Cohort's
   `Σ log-loss + λ/2·‖w‖²` with λ = 1/C, intercept unpenalised.
3. Printed side by side: seconds and ratio (scikit-learn / Cohort), K-means
   inertia (lower is better), AUC on the held-out rows.

    python3 -m pip install -r bench/requirements.txt   # scikit-learn, numpy
    python3 bench/predict.py [--repeats 5] [--rows 200000] [--k 5] [--no-build]

Results go to bench/out/predict.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "cohort" / "target"))
OUT = ROOT / "bench" / "out" / "predict"


def load(path: Path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    header = path.open().readline().strip().split(",")
    if header[-1] == "y":
        return data[:, :-1], data[:, -1].astype(int)
    return data, None


def median_time(repeats: int, f):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def sk_kmeans(name: str, k: int, repeats: int) -> dict:
    x, _ = load(OUT / name)
    secs, km = median_time(repeats, lambda: KMeans(n_clusters=k, init="k-means++", n_init=10, max_iter=300,
                                                   algorithm="lloyd", random_state=42).fit(x))
    return {"seconds": secs, "inertia": float(km.inertia_), "iterations": int(km.n_iter_)}


def sk_logistic(train: str, test: str, repeats: int) -> dict:
    xt, yt = load(OUT / train)
    xe, ye = load(OUT / test)
    secs, lr = median_time(repeats, lambda: LogisticRegression(C=1.0, max_iter=1000).fit(xt, yt))
    return {"seconds": secs, "auc": float(roc_auc_score(ye, lr.predict_proba(xe)[:, 1])),
            "intercept": float(lr.intercept_[0]), "weights": lr.coef_[0].tolist()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()

    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "cohort-predict", "--example", "predict_bench"],
                       cwd=ROOT, check=True, env=env)
    exe = TARGET / "release" / "examples" / "predict_bench"
    run = subprocess.run([str(exe), "--out", str(OUT), "--repeats", str(args.repeats), "--rows", str(args.rows),
                          "--k", str(args.k)], cwd=ROOT, check=True, env=env, capture_output=True, text=True)
    cohort = json.loads(run.stdout)

    results = []
    files = {"online_retail_buyers": "or_clusters.csv", "synthetic_blobs": "synthetic_blobs.csv",
             "online_retail_churn": ("or_churn_train.csv", "or_churn_eval.csv"),
             "synthetic_logistic": ("synthetic_logistic_train.csv", "synthetic_logistic_test.csv")}
    print(f"{'task':<34} {'rows':>8} {'cohort s':>9} {'sklearn s':>9} {'ratio':>7}  quality (cohort / sklearn)")
    for entry in cohort:
        if "kmeans" in entry:
            c = entry["kmeans"]
            s = sk_kmeans(files[c["matrix"]], c["k"], args.repeats)
            quality = f"inertia {c['inertia']:.1f} / {s['inertia']:.1f}"
            task, rows = f"k-means k={c['k']} {c['matrix']}", c["rows"]
            results.append({"task": "kmeans", "cohort": c, "sklearn": s})
        else:
            c = entry["logistic"]
            s = sk_logistic(*files[c["matrix"]], args.repeats)
            quality = f"AUC {c['auc']:.4f} / {s['auc']:.4f}"
            task, rows = f"logistic {c['matrix']}", c["train_rows"]
            results.append({"task": "logistic", "cohort": c, "sklearn": s})
        ratio = s["seconds"] / c["seconds"] if c["seconds"] > 0 else float("inf")
        results[-1]["ratio"] = ratio
        print(f"{task:<34} {rows:>8} {c['seconds']:>9.4f} {s['seconds']:>9.4f} {ratio:>6.1f}x  {quality}")
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "predict.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
