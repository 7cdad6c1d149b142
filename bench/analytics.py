#!/usr/bin/env python3
"""Analytics benchmark (issue 5): on a generated shop, time Cohort's
`cohort funnel` (4 steps, 7-day window, ordered), `cohort retention` (weekly,
12 weeks, bounded) and `cohort kpi` against the same funnel and retention as
hand-written DuckDB SQL (over Cohort's store file, opened read-only) and as
pandas (over the shop's CSV files); check the three agree on the per-step
counts and the whole retention grid; print times and ratios (peer ÷ Cohort).

    python3 bench/analytics.py [--users 200000 --days 365 --seed 7]
    python3 bench/analytics.py --users 1000000 --days 365     # issue 5: 1M users / ~20M events
    python3 bench/analytics.py --users 5000000 --days 365     # issue 5: 5M users / ~100M events

See bench/README.md, "Analytics", for what is measured and how the peers
follow docs/analytics.md's definitions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_common import _cpu, _peak_rss_mib  # noqa: E402
from run import (BENCH, DEFAULT_COHORT, IMPORT_ORDER, SHOP_TZ, Cohort, count_rows, fmt,  # noqa: E402
                 ratio, run_child, step, table)

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
WINDOW_S = 7 * 86_400  # 7 days, inclusive
PERIODS = 12  # weekly retention, 12 return weeks
SHOP_OFFSET_H = 8  # Asia/Shanghai: +08:00 all year since 1991 (what Cohort compiles it to)
GOALS = {"funnel_max_s_at_100m": 2.0, "funnel_vs_duckdb": 1.0}


# --------------------------------------------------------------------------
# DuckDB SQL. `events` is any relation with person_id, event, ts (TIMESTAMP,
# UTC): Cohort's own `events` table in the benchmark, a test table in
# test_analytics.py.

def duckdb_funnel(con, steps=STEPS, window_s=WINDOW_S, events="events") -> list[int]:
    """People reaching each step, ordered mode. Every step-1 event starts an
    attempt; step k+1 is the earliest step-(k+1) event at or after step k
    (same instant counts: Cohort orders same-instant events by step) and at
    most `window_s` after step 1 (inclusive); a person counts with their
    furthest attempt. Greedy earliest = an ASOF join per step."""
    def q(s):
        return "'" + s.replace("'", "''") + "'"

    ctes = [f"ev AS (SELECT person_id, event, ts FROM {events} WHERE person_id IS NOT NULL "
            f"AND event IN ({', '.join(map(q, steps))}))",
            f"a1 AS (SELECT person_id, ts AS t1, ts AS t, 1 AS level FROM ev WHERE event = {q(steps[0])})"]
    for k in range(2, len(steps) + 1):
        ctes.append(
            f"a{k} AS (SELECT a.person_id, a.t1, s.ts AS t, {k} AS level FROM a{k - 1} AS a "
            f"ASOF JOIN (SELECT person_id, ts FROM ev WHERE event = {q(steps[k - 1])}) AS s "
            f"ON s.person_id = a.person_id AND s.ts >= a.t "
            f"WHERE s.ts <= a.t1 + INTERVAL {int(window_s)} SECOND)")
    union = " UNION ALL ".join(f"SELECT person_id, level FROM a{k}" for k in range(1, len(steps) + 1))
    counts = ", ".join(f"count(*) FILTER (WHERE level >= {k})" for k in range(1, len(steps) + 1))
    sql = (f"WITH {', '.join(ctes)}, best AS (SELECT person_id, max(level) AS level FROM ({union}) "
           f"GROUP BY person_id) SELECT {counts} FROM best")
    return [int(x) for x in con.execute(sql).fetchone()]


def duckdb_retention(con, as_of, periods=PERIODS, events="events") -> dict:
    """Weekly bounded retention, cohort = week of the first event, return =
    any event in a later week: {cohort date: (size, {k: people})}. Weeks
    are Monday–Sunday in shop time (UTC + 8 h)."""
    sql = f"""
        WITH pw AS (
          SELECT DISTINCT person_id,
                 CAST(date_trunc('week', ts + INTERVAL {SHOP_OFFSET_H} HOUR) AS DATE) AS wk
          FROM {events} WHERE person_id IS NOT NULL AND ts <= ?
        ), c AS (SELECT person_id, min(wk) AS cohort FROM pw GROUP BY person_id)
        SELECT c.cohort, -1 AS k, count(*) FROM c GROUP BY c.cohort
        UNION ALL
        SELECT c.cohort, date_diff('day', c.cohort, pw.wk) // 7 AS k, count(*)
        FROM pw JOIN c USING (person_id)
        WHERE pw.wk > c.cohort AND date_diff('day', c.cohort, pw.wk) // 7 <= {int(periods)}
        GROUP BY ALL"""
    grid: dict = {}
    for cohort, k, n in con.execute(sql, [as_of]).fetchall():
        size, cells = grid.setdefault(str(cohort), [0, {}])
        if k < 0:
            grid[str(cohort)][0] = int(n)
        else:
            cells[int(k)] = int(n)
    return grid


def duckdb_as_of(con):
    """Cohort's default as_of: the latest event or order (any kind)."""
    return con.execute("SELECT max(hi) FROM (SELECT max(ts) AS hi FROM events "
                       "UNION ALL SELECT max(placed_at) FROM orders)").fetchone()[0]


# --------------------------------------------------------------------------
# pandas. `ev`: DataFrame with person_id, event, ts (datetime64, UTC-aware).

def pandas_load(shop) -> dict:
    import pandas as pd

    ev = pd.read_csv(Path(shop) / "events.csv", usecols=["person_id", "event", "timestamp"],
                     dtype={"person_id": "string", "event": "string"}, engine="c")
    ev["ts"] = pd.to_datetime(ev.pop("timestamp"), utc=True, format="ISO8601")
    placed = pd.to_datetime(pd.read_csv(Path(shop) / "orders.csv", usecols=["placed_at"])["placed_at"],
                            utc=True, format="ISO8601")
    return {"ev": ev, "as_of": max(ev["ts"].max(), placed.max())}


def pandas_funnel(ev, steps=STEPS, window_s=WINDOW_S) -> list[int]:
    """Same definition as duckdb_funnel, with one merge_asof (forward,
    exact matches allowed) per step."""
    import pandas as pd

    ev = ev[ev["person_id"].notna()]
    window = pd.Timedelta(seconds=window_s)
    cur = ev.loc[ev["event"] == steps[0], ["person_id", "ts"]].rename(columns={"ts": "t1"})
    cur["t"] = cur["t1"]
    reached = [cur[["person_id"]].assign(level=1)]
    for k in range(2, len(steps) + 1):
        nxt = ev.loc[ev["event"] == steps[k - 1], ["person_id", "ts"]].rename(columns={"ts": "tk"})
        m = pd.merge_asof(cur.sort_values("t"), nxt.sort_values("tk"), left_on="t", right_on="tk",
                          by="person_id", direction="forward", allow_exact_matches=True)
        m = m[m["tk"].notna() & (m["tk"] <= m["t1"] + window)]
        cur = m[["person_id", "t1"]].assign(t=m["tk"])
        reached.append(m[["person_id"]].assign(level=k))
    best = pd.concat(reached).groupby("person_id")["level"].max()
    return [int((best >= k).sum()) for k in range(1, len(steps) + 1)]


def pandas_retention(ev, as_of, periods=PERIODS) -> dict:
    """Same grid as duckdb_retention; shop weeks from tz_convert(Asia/Shanghai)."""
    import pandas as pd

    ev = ev[ev["person_id"].notna() & (ev["ts"] <= as_of)]
    local = ev["ts"].dt.tz_convert(SHOP_TZ).dt.tz_localize(None).dt.normalize()
    wk = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
    pw = pd.DataFrame({"person_id": ev["person_id"].to_numpy(), "wk": wk.to_numpy()}).drop_duplicates()
    cohort = pw.groupby("person_id")["wk"].min()
    pw["cohort"] = pw["person_id"].map(cohort)
    pw["k"] = (pw["wk"] - pw["cohort"]).dt.days // 7
    cells = pw[(pw["k"] >= 1) & (pw["k"] <= periods)].groupby(["cohort", "k"]).size()
    grid = {str(c.date()): [int(n), {}] for c, n in cohort.value_counts().items()}
    for (c, k), n in cells.items():
        grid[str(c.date())][1][int(k)] = int(n)
    return grid


# --------------------------------------------------------------------------
# The grid in Cohort's shape, and the comparison.

def assemble(grid: dict, as_of_date, periods=PERIODS) -> list[dict]:
    """{cohort: [size, {k: n}]} → Cohort's rows: cell 0 = size, missing cells
    0, cells of weeks starting after the as_of shop date null."""
    from datetime import date, timedelta

    rows = []
    for cohort in sorted(grid):
        size, cells = grid[cohort]
        start = date.fromisoformat(cohort)
        rows.append({"cohort": cohort, "size": size, "retained": [
            None if start + timedelta(days=7 * k) > as_of_date else (size if k == 0 else cells.get(k, 0))
            for k in range(periods + 1)]})
    return rows


def shop_date(as_of):
    from datetime import timedelta

    return (as_of.replace(tzinfo=None) + timedelta(hours=SHOP_OFFSET_H)).date()


def compare(results: dict[str, dict]) -> list[dict]:
    """One row per funnel step and per retention cell."""
    names = list(results)
    rows = []
    for k, label in enumerate(STEPS):
        values = {n: results[n]["funnel"][k] for n in names}
        rows.append({"what": f"funnel step {k + 1}", "key": label, **values})
    cohorts = sorted({r["cohort"] for res in results.values() for r in res["retention"]})
    by = {n: {r["cohort"]: r for r in results[n]["retention"]} for n in names}
    for c in cohorts:
        for k in range(PERIODS + 1):
            values = {n: (by[n][c]["retained"][k] if c in by[n] else "missing") for n in names}
            rows.append({"what": "retention", "key": f"{c} week {k}", **values})
    for r in rows:
        r["equal"] = len({json.dumps(r[n]) for n in names}) == 1
    return rows


# --------------------------------------------------------------------------
# Peer processes: `analytics.py --peer duckdb|pandas …` prints a JSON report.

def best_of(repeat: int, fn):
    """(result, min wall, CPU of that run, every wall) over `repeat` runs."""
    walls, best = [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), _cpu()
        result = fn()
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
        walls.append(wall)
        if best is None or wall < best[1]:
            best = (result, wall, cpu)
    return best[0], best[1], best[2], walls


def peer_main(args):
    report = {"peer": args.peer, "python": sys.version.split()[0], "cores": os.cpu_count()}
    started, cpu = time.perf_counter(), _cpu()
    if args.peer == "duckdb":
        import duckdb

        report["version"] = duckdb.__version__
        con = duckdb.connect(str(args.store / "cohort.duckdb"), read_only=True,
                             config={"threads": args.threads} if args.threads else {})
        as_of = duckdb_as_of(con)
        funnel = lambda: duckdb_funnel(con)  # noqa: E731
        retention = lambda: duckdb_retention(con, as_of)  # noqa: E731
    else:
        import pandas as pd

        report["version"] = pd.__version__
        state = pandas_load(args.shop)
        as_of = state["as_of"]
        funnel = lambda: pandas_funnel(state["ev"])  # noqa: E731
        retention = lambda: pandas_retention(state["ev"], as_of)  # noqa: E731
    report["load_s"], report["load_cpu_s"] = time.perf_counter() - started, _cpu() - cpu
    report["funnel"], report["funnel_s"], report["funnel_cpu_s"], report["funnel_runs_s"] = best_of(args.repeat, funnel)
    grid, report["retention_s"], report["retention_cpu_s"], report["retention_runs_s"] = best_of(args.repeat, retention)
    report["as_of"] = str(as_of)
    report["retention"] = assemble(grid, shop_date(as_of))
    report["peak_rss_mib"] = _peak_rss_mib()
    args.json.write_text(json.dumps(report, indent=1) + "\n")


# --------------------------------------------------------------------------

def prepare(args, work: Path, cohort: Cohort | None) -> tuple[Path, Path, dict]:
    """The shop (generated, reused or given) and a store with it imported."""
    wanted = {"users": args.users, "days": args.days, "seed": args.seed}
    shop, store = (args.shop.resolve() if args.shop else work / "shop"), work / "store"
    shop_params, store_params = work / "shop.params.json", work / "store.params.json"
    if args.shop:
        wanted = {"shop": str(shop)}
        step(f"using the CSV files in {shop}")
    elif args.reuse and shop_params.exists() and json.loads(shop_params.read_text()) == wanted:
        step(f"reusing {shop} ({args.users:,} users × {args.days} days, seed {args.seed})")
    else:
        step(f"generate: {args.users:,} users × {args.days} days, seed {args.seed}")
        shutil.rmtree(shop, ignore_errors=True)
        shutil.rmtree(work / "generate-store", ignore_errors=True)
        shop_params.unlink(missing_ok=True)
        store_params.unlink(missing_ok=True)
        child = cohort(work / "generate-store", "generate", "--users", str(args.users), "--days", str(args.days),
                       "--seed", str(args.seed), "--output", str(shop), log="generate")
        shutil.rmtree(work / "generate-store", ignore_errors=True)
        shop_params.write_text(json.dumps(wanted))
        print(f"   {child.wall_s:.1f} s")
    rows = count_rows(shop)
    print(f"   {rows['events']:,} events, {rows['orders']:,} orders, {rows['users']:,} users; "
          f"{rows['csv_mib']:,} MiB of CSV")
    if args.reuse and store_params.exists() and json.loads(store_params.read_text()) == wanted:
        step(f"reusing the store {store}")
    else:
        step("cohort import (fresh store): " + ", ".join(IMPORT_ORDER))
        shutil.rmtree(store, ignore_errors=True)
        store_params.unlink(missing_ok=True)
        for kind in IMPORT_ORDER:
            child = cohort(store, "import", "csv", str(shop / f"{kind}.csv"), "--kind", kind, log=f"import-{kind}")
            line = child.output.strip().splitlines()[0] if child.output.strip() else ""
            print(f"   {kind:<9}{child.wall_s:8.2f} s  {line}")
            if " 0 rejected" not in line and "rejected" in line:
                print(f"   WARNING: rejected {kind} rows; the peers read every row, counts may differ")
        store_params.write_text(json.dumps(wanted))
    return shop, store, rows


def cohort_json(child) -> dict:
    text = child.output
    return json.loads(text[text.index("{"):])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200_000, help="users to generate (default 200,000)")
    parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cohort", type=Path, help=f"the cohort binary (default {DEFAULT_COHORT})")
    parser.add_argument("--workdir", type=Path, default=BENCH / "out" / "analytics")
    parser.add_argument("--shop", type=Path, help="use these native CSV files instead of generating")
    parser.add_argument("--reuse", action="store_true",
                        help="keep WORKDIR/shop and WORKDIR/store made with the same users/days/seed")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query; the fastest counts (default 3)")
    parser.add_argument("--peers", default="duckdb,pandas")
    parser.add_argument("--duckdb-threads", dest="threads", type=int, help="DuckDB threads (default: all cores)")
    # internal: one peer in its own process
    parser.add_argument("--peer", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return peer_main(args)

    work = args.workdir.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    if (work / "cohort.toml").exists():
        sys.exit(f"error: {work / 'cohort.toml'} exists; the benchmark runs with default settings")
    binary = args.cohort or (DEFAULT_COHORT if DEFAULT_COHORT.exists() else shutil.which("cohort"))
    if not binary or not Path(binary).exists():
        sys.exit("error: no cohort binary (cargo build --release -p cohort-cli, or --cohort PATH)")
    cohort = Cohort(Path(binary).resolve(), work)
    peers = [p for p in args.peers.split(",") if p]

    results: dict = {
        "started_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "params": {"users": args.users, "days": args.days, "seed": args.seed, "repeat": args.repeat,
                   "steps": STEPS, "window_s": WINDOW_S, "mode": "ordered", "retention": "week × 12, bounded",
                   "duckdb_threads": args.threads},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "cohort_binary": str(cohort.binary),
    }
    shop, store, rows = prepare(args, work, cohort)
    results["rows"] = rows

    # Cohort: each command is a whole process (start-up, store open, query, JSON out).
    commands = {
        "funnel": ["funnel", *STEPS, "--window", "7d", "--mode", "ordered", "--json"],
        "retention": ["retention", "--cohort", "any", "--returning", "any", "--period", "week",
                      "--periods", str(PERIODS), "--json"],
        "kpi": ["kpi", "--json"],
    }
    step(f"Cohort: funnel, retention, kpi (best of {args.repeat} processes each)")
    cohort_res: dict = {}
    for name, cmd in commands.items():
        runs = [cohort(store, *cmd, log=f"{name}-{i}") for i in range(args.repeat)]
        best = min(runs, key=lambda c: c.wall_s)
        cohort_res[name] = {"wall_s": best.wall_s, "cpu_s": best.cpu_s, "peak_rss_mib": best.peak_rss_mib,
                            "runs_s": [c.wall_s for c in runs], "json": cohort_json(best)}
        print(f"   {name:<10}{best.wall_s:7.2f} s  (runs {', '.join(f'{c.wall_s:.2f}' for c in runs)}; "
              f"peak {best.peak_rss_mib:,.0f} MiB)")
    found = {
        "funnel": [s["persons"] for s in cohort_res["funnel"]["json"]["steps"]],
        "retention": [{"cohort": r["cohort"], "size": r["size"], "retained": r["retained"]}
                      for r in cohort_res["retention"]["json"]["cohorts"]],
    }
    answers = {"cohort": found}

    for peer in peers:
        title = {"duckdb": "DuckDB SQL (store, read-only)", "pandas": "pandas (CSV)"}[peer]
        step(f"{title}: funnel, retention (best of {args.repeat} each)")
        out = work / f"analytics-{peer}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--peer", peer, "--store", str(store),
               "--shop", str(shop), "--json", str(out), "--repeat", str(args.repeat)]
        if args.threads:
            cmd += ["--duckdb-threads", str(args.threads)]
        child = run_child(cmd, work / "logs" / f"analytics-{peer}.log", work)
        report = json.loads(out.read_text()) | {"process_wall_s": child.wall_s, "process_peak_rss_mib":
                                                 child.peak_rss_mib}
        results[peer] = report
        answers[peer] = {"funnel": report["funnel"], "retention": report["retention"]}
        print(f"   {report['peer']} {report['version']}: load {report['load_s']:.2f} s, funnel "
              f"{report['funnel_s']:.2f} s, retention {report['retention_s']:.2f} s, peak "
              f"{child.peak_rss_mib:,.0f} MiB")

    comparison = compare(answers)
    mismatches = [r for r in comparison if not r["equal"]]
    results["cohort"] = {k: {x: y for x, y in v.items() if x != "json"} for k, v in cohort_res.items()}
    results["cohort_json"] = {k: v["json"] for k, v in cohort_res.items()}
    results["answers"], results["agree"] = answers, not mismatches
    step("agreement: " + " = ".join(answers))
    names = list(answers)
    if mismatches:
        print("MISMATCH: results differ between implementations\n")
        show = [r for r in comparison if r["what"] != "retention" or not r["equal"]]
        print(table([[r["what"], r["key"], *(fmt(r[n]) if r[n] != "missing" else "missing" for n in names),
                      "" if r["equal"] else "MISMATCH"] for r in show], ["", "", *names, ""], text_columns=2))
    else:
        cells = sum(1 for r in comparison if r["what"] == "retention")
        print(f"   equal: funnel {' → '.join(f'{n:,}' for n in found['funnel'])}; retention "
              f"{len(found['retention'])} cohorts × {PERIODS + 1} cells ({cells} cells)")

    d, p = results.get("duckdb", {}), results.get("pandas", {})
    c = cohort_res
    timings = {
        "funnel": (c["funnel"]["wall_s"], d.get("funnel_s"), p.get("funnel_s")),
        "retention": (c["retention"]["wall_s"], d.get("retention_s"), p.get("retention_s")),
        "kpi": (c["kpi"]["wall_s"], None, None),
        "load": (None, d.get("load_s"), p.get("load_s")),
        "funnel_cpu": (c["funnel"]["cpu_s"], d.get("funnel_cpu_s"), p.get("funnel_cpu_s")),
        "peak": (max(v["peak_rss_mib"] for v in c.values()), d.get("process_peak_rss_mib"),
                 p.get("process_peak_rss_mib")),
    }
    results["timings"] = {k: dict(zip(["cohort", "duckdb", "pandas"], v)) for k, v in timings.items()}
    events_m = rows["events"] / 1e6
    results["goals"] = {
        "funnel_vs_duckdb": {"goal": "> 1× (ahead of DuckDB SQL)", "value": ratio(d.get("funnel_s"), c["funnel"]["wall_s"])},
        "funnel_s_per_100m_events_linear": {"goal": "≤ 2 s at 100M events",
                                            "value": c["funnel"]["wall_s"] * 100 / events_m},
    }
    results["finished_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    (work / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")

    step(f"results: {rows['events']:,} events, {args.users:,} users")
    labels = [("funnel (s)", "funnel", 2), ("retention (s)", "retention", 2), ("kpi (s)", "kpi", 2),
              ("peer load (s)", "load", 2), ("funnel CPU (s)", "funnel_cpu", 2), ("peak memory (MiB)", "peak", 0)]
    lines = []
    for label, key, digits in labels:
        co, du, pa = timings[key]
        lines.append([label, fmt(co, "", digits), fmt(du, "", digits), fmt(pa, "", digits),
                      fmt(ratio(du, co), "×"), fmt(ratio(pa, co), "×")])
    print(table(lines, ["", "Cohort", "DuckDB SQL", "pandas", "DuckDB/Cohort", "pandas/Cohort"]))
    g = results["goals"]
    print(f"\nfunnel vs DuckDB SQL: {fmt(g['funnel_vs_duckdb']['value'], '×')} (goal: ahead, > 1×)")
    print(f"funnel scaled linearly to 100M events: {g['funnel_s_per_100m_events_linear']['value']:.1f} s "
          "(goal ≤ 2 s; measure it with --users 5000000)")
    print(f"\nwrote {work / 'results.json'}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
