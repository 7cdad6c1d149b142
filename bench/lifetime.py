#!/usr/bin/env python3
"""CLV benchmark (issue 6): Cohort's BG/NBD + Gamma-Gamma against `lifetimes`
on the same RFM summary, in one run.

1. Imports Online Retail into a fresh store (`cohort import online-retail`).
2. `cohort clv fit --export-summary` fits both models, stores the scores and
   writes the RFM summary (days, Europe/London) it fitted on.
3. `lifetimes` fits BetaGeoFitter and GammaGammaFitter on that same CSV.
4. Prints the fitted parameters side by side, each fit's log-likelihood
   evaluated with the same formula at both optima, and the time ratio
   (fit only: Cohort's in-process timing from its JSON report, `lifetimes`'
   `.fit()` wall clock; loading excluded on both sides).

    python3 -m pip install lifetimes==0.11.3   # pulls numpy, scipy, pandas, autograd
    cargo build --release -p cohort-cli
    python3 bench/lifetime.py [--data FILE] [--cohort BIN] [--workdir bench/out/lifetime] [--repeat 3]

Results go to WORKDIR/results.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/cohort/target"))
    path = target / "release" / "cohort"
    return str(path) if path.exists() else "cohort"


def default_data():
    data = Path(os.environ.get("COHORT_DATA_DIR", ROOT.parent / "shared" / "data"))
    return str(data / "uci_online_retail" / "online_retail.csv.gz")


def bgnbd_ll(r, alpha, a, b, x, tx, T):
    """Summed BG/NBD log-likelihood (FHL 2005 eq. 6), the formula both sides maximise."""
    import numpy as np
    from scipy.special import gammaln

    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx), -np.inf)
    return float((a1 + a2 + np.logaddexp(a3, a4)).sum())


def gg_ll(p, q, v, x, m):
    import numpy as np
    from scipy.special import gammaln

    return float(
        (
            gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
            + (p * x) * np.log(x) - (p * x + q) * np.log(x * m + v)
        ).sum()
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=default_data())
    ap.add_argument("--cohort", default=default_binary())
    ap.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "lifetime"))
    ap.add_argument("--repeat", type=int, default=3, help="fits per side; the fastest is reported")
    args = ap.parse_args()

    import lifetimes
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    work = Path(args.workdir)
    store = work / "store"
    if store.exists():
        shutil.rmtree(store)
    work.mkdir(parents=True, exist_ok=True)
    summary = work / "summary.csv"
    base = [args.cohort, "--store", str(store), "--time-zone", "Europe/London", "--quiet"]
    subprocess.run(base + ["import", "online-retail", args.data], check=True, stdout=subprocess.DEVNULL)

    cohort_runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            base + ["clv", "fit", "--holdout-days", "0", "--export-summary", str(summary), "--json"],
            check=True, capture_output=True, text=True,
        ).stdout
        cohort_runs.append(json.loads(out)["model"])
    best = min(cohort_runs, key=lambda m: m["bgnbd_seconds"] + m["gamma_gamma_seconds"])
    c_bg, c_gg = best["bgnbd"]["params"], best["gamma_gamma"]["params"]
    c_bg_s = min(m["bgnbd_seconds"] for m in cohort_runs)
    c_gg_s = min(m["gamma_gamma_seconds"] for m in cohort_runs)

    df = pd.read_csv(summary)
    x, tx, T = df["frequency"].to_numpy(float), df["recency"].to_numpy(float), df["T"].to_numpy(float)
    rep = df[(df["frequency"] > 0) & (df["monetary_value"] > 0)]

    l_bg_s, l_gg_s = float("inf"), float("inf")
    for _ in range(args.repeat):
        bgf = BetaGeoFitter(penalizer_coef=0.0)
        t0 = time.perf_counter()
        bgf.fit(df["frequency"], df["recency"], df["T"])
        l_bg_s = min(l_bg_s, time.perf_counter() - t0)
        ggf = GammaGammaFitter(penalizer_coef=0.0)
        t0 = time.perf_counter()
        ggf.fit(rep["frequency"], rep["monetary_value"])
        l_gg_s = min(l_gg_s, time.perf_counter() - t0)
    l_bg, l_gg = bgf.params_, ggf.params_

    ll_c = bgnbd_ll(c_bg["r"], c_bg["alpha"], c_bg["a"], c_bg["b"], x, tx, T)
    ll_l = bgnbd_ll(l_bg["r"], l_bg["alpha"], l_bg["a"], l_bg["b"], x, tx, T)
    xm, mm = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    gl_c = gg_ll(c_gg["p"], c_gg["q"], c_gg["gamma"], xm, mm)
    gl_l = gg_ll(l_gg["p"], l_gg["q"], l_gg["v"], xm, mm)

    print(f"Online Retail RFM summary: {len(df)} customers, {len(rep)} repeat (days, as of {best['as_of']})")
    print(f"lifetimes {lifetimes.__version__}, Python {sys.version.split()[0]}; best of {args.repeat}")
    print(f"{'':14}{'Cohort':>14}{'lifetimes':>14}")
    for name, c, l in [("r", c_bg["r"], l_bg["r"]), ("alpha", c_bg["alpha"], l_bg["alpha"]),
                       ("a", c_bg["a"], l_bg["a"]), ("b", c_bg["b"], l_bg["b"])]:
        print(f"BG/NBD {name:<7}{c:>14.6f}{l:>14.6f}")
    print(f"BG/NBD LL     {ll_c:>14.3f}{ll_l:>14.3f}")
    for name, c, l in [("p", c_gg["p"], l_gg["p"]), ("q", c_gg["q"], l_gg["q"]), ("gamma/v", c_gg["gamma"], l_gg["v"])]:
        print(f"GG {name:<11}{c:>14.6f}{l:>14.6f}")
    print(f"GG LL         {gl_c:>14.3f}{gl_l:>14.3f}")
    print(f"BG/NBD fit s  {c_bg_s:>14.4f}{l_bg_s:>14.4f}   lifetimes/Cohort {l_bg_s / c_bg_s:.1f}x")
    print(f"GG fit s      {c_gg_s:>14.4f}{l_gg_s:>14.4f}   lifetimes/Cohort {l_gg_s / c_gg_s:.1f}x")
    total = (l_bg_s + l_gg_s) / (c_bg_s + c_gg_s)
    print(f"both          {c_bg_s + c_gg_s:>14.4f}{l_bg_s + l_gg_s:>14.4f}   lifetimes/Cohort {total:.1f}x")

    results = {
        "customers": len(df), "repeat_customers": len(rep), "as_of": best["as_of"],
        "lifetimes_version": lifetimes.__version__,
        "cohort": {"bgnbd": c_bg, "gamma_gamma": c_gg, "bgnbd_ll": ll_c, "gg_ll": gl_c,
                   "bgnbd_seconds": c_bg_s, "gamma_gamma_seconds": c_gg_s,
                   "bgnbd_iterations": best["bgnbd"]["iterations"], "converged": best["bgnbd"]["converged"]},
        "lifetimes": {"bgnbd": dict(l_bg), "gamma_gamma": dict(l_gg), "bgnbd_ll": ll_l, "gg_ll": gl_l,
                      "bgnbd_seconds": l_bg_s, "gamma_gamma_seconds": l_gg_s},
        "ratio_total": total,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2, default=float))
    # The two optimisers must agree: same likelihood within 0.01 per 1,000 customers.
    if abs(ll_c - ll_l) > 1e-5 * len(df) and ll_c < ll_l:
        print("Cohort's BG/NBD optimum is worse than lifetimes'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
