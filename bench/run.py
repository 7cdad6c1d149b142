#!/usr/bin/env python3
"""Cohort benchmark: generate a shop, time `cohort import` and `cohort
compute`, run the same RFM + lifecycle job as hand-written DuckDB SQL and as
pandas on the same CSV files, check the three agree, print the ratios.

    python3 bench/run.py --users 1000000 --days 365 [--seed 7]
                         [--cohort PATH] [--workdir bench/out]

See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DEFAULT_COHORT = Path.home() / ".cache/cohort/target/release/cohort"
SHOP_TZ = "Asia/Shanghai"  # the peers hard-code it too
IMPORT_ORDER = ["products", "users", "orders", "events"]
PEERS = {"duckdb": ("DuckDB SQL", "peer_duckdb.py"), "pandas": ("pandas", "peer_pandas.py")}
GOALS = {"compute_vs_duckdb": 3.0, "compute_vs_pandas": 30.0, "import_events_per_s": 1_000_000}
# Groupings compared between implementations, in Cohort's display order
# (behaviour types are not compared: the peers do not reproduce them).
GROUPS = {
    "value_tiers": ["high_value", "potential", "low_value", "general", "prospect"],
    "lifecycle": ["new", "active", "silent_light", "silent_medium", "silent_heavy", "churned"],
    "rfm": ["champions", "loyal_customers", "potential_loyalists", "new_customers", "promising",
            "need_attention", "about_to_sleep", "at_risk", "cant_lose", "hibernating"],
}


@dataclass
class Child:
    """One finished child process: wall clock, CPU, peak memory, output."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    output: str


def run_child(cmd: list[str], log: Path, cwd: Path, env: dict | None = None) -> Child:
    """Runs `cmd`, output to `log`; its own rusage via wait4 (ru_maxrss of
    that process alone, not of earlier children)."""
    with open(log, "w", encoding="utf-8") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, cmd))} exited with {proc.returncode}; its output ({log}):\n"
                 + output[-3000:])
    return Child(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output)


class Cohort:
    """The `cohort` binary, run with a clean environment from the work
    directory (no cohort.toml there: default thresholds)."""

    def __init__(self, binary: Path, workdir: Path):
        self.binary, self.workdir = binary, workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COHORT_")}

    def __call__(self, store: Path, *args: str, log: str) -> Child:
        cmd = [str(self.binary), "--store", str(store), "--time-zone", SHOP_TZ, "--quiet", *args]
        return run_child(cmd, self.workdir / "logs" / f"{log}.log", self.workdir, self.env)


def count_rows(shop: Path) -> dict:
    """Rows of each native file (untimed; DuckDB counts CSV records, which
    may span lines)."""
    import duckdb

    con = duckdb.connect()

    def rows(name: str, what: str = "count(*)") -> int:
        path = str(shop / name).replace("'", "''")
        return con.execute(f"SELECT {what} FROM read_csv('{path}', header = true, all_varchar = true, "
                           "delim = ',', quote = '\"', escape = '\"')").fetchone()[0]

    return {
        "events": rows("events.csv"),
        "order_lines": rows("orders.csv"),
        "orders": rows("orders.csv", "count(DISTINCT order_id)"),
        "users": rows("users.csv"),
        "products": rows("products.csv"),
        "csv_mib": round(sum((shop / f).stat().st_size for f in os.listdir(shop) if f.endswith(".csv")) / 2**20, 1),
    }


def dir_mib(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def cohort_counts(summary: dict) -> dict:
    """`cohort segments --json` in the peers' shape."""
    return {
        "total": summary["total"],
        "rfm_scored": summary.get("rfm_scored"),
        **{group: {row["segment"]: row["count"] for row in summary[group]} for group in GROUPS},
    }


def compare(counts: dict[str, dict]) -> list[dict]:
    """One row per compared figure: each implementation's count, and
    whether they are all equal."""
    names = list(counts)
    keys = [("total", None), ("rfm_scored", None)]
    for group, known in GROUPS.items():
        unknown = sorted({s for c in counts.values() for s in c[group]} - set(known))
        keys += [(group, segment) for segment in known + unknown]
    rows = []
    for group, segment in keys:
        values = {n: (counts[n][group] if segment is None else counts[n][group].get(segment, 0)) for n in names}
        if any(v is None for v in values.values()):
            continue  # a figure one implementation does not report
        rows.append({"group": group, "segment": segment, **values, "equal": len(set(values.values())) == 1})
    return rows


def ratio(peer: float | None, cohort: float | None) -> float | None:
    return peer / cohort if peer and cohort else None


def fmt(value, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def table(rows: list[list[str]], header: list[str], text_columns: int = 1) -> str:
    """Plain-text table: the first `text_columns` left-aligned, the rest right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r):
        return "  ".join(c.ljust(w) if i < text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def step(title: str):
    print(f"\n== {title}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20_000, help="users to generate (default 20,000)")
    parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cohort", type=Path, default=None,
                        help=f"the cohort binary (default {DEFAULT_COHORT}, else `cohort` on PATH)")
    parser.add_argument("--workdir", type=Path, default=BENCH / "out", help="where data, stores, logs go")
    parser.add_argument("--shop", type=Path, help="use these native CSV files instead of generating")
    parser.add_argument("--reuse-shop", action="store_true",
                        help="keep WORKDIR/shop if it was generated with the same --users/--days/--seed")
    parser.add_argument("--skip-cohort", action="store_true", help="run the peers only (no import/compute)")
    parser.add_argument("--peers", default="duckdb,pandas", help="peers to run, comma-separated (default both)")
    parser.add_argument("--duckdb-threads", type=int, help="DuckDB threads (default: all cores)")
    args = parser.parse_args()

    work = args.workdir.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    if (work / "cohort.toml").exists():
        sys.exit(f"error: {work / 'cohort.toml'} exists; the benchmark runs with default thresholds")
    peers = [p for p in args.peers.split(",") if p]
    if unknown := set(peers) - set(PEERS):
        sys.exit(f"error: unknown peer(s) {sorted(unknown)}; known: {', '.join(PEERS)}")

    shop = args.shop.resolve() if args.shop else work / "shop"
    params_file = work / "shop.params.json"
    wanted = {"users": args.users, "days": args.days, "seed": args.seed}
    reuse = (args.reuse_shop and params_file.exists() and json.loads(params_file.read_text()) == wanted
             and (shop / "events.csv").exists())
    cohort = None
    if not args.skip_cohort or not (args.shop or reuse):
        binary = args.cohort or (DEFAULT_COHORT if DEFAULT_COHORT.exists() else shutil.which("cohort"))
        if not binary or not Path(binary).exists():
            sys.exit("error: no cohort binary (build it with `cargo build --release -p cohort-cli` or pass "
                     "--cohort PATH); --skip-cohort --shop DIR runs the peers alone")
        cohort = Cohort(Path(binary).resolve(), work)

    results: dict = {
        "started_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "params": {"users": args.users, "days": args.days, "seed": args.seed, "shop": None,
                   "duckdb_threads": args.duckdb_threads},
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "cohort_binary": str(cohort.binary) if cohort else None,
        "steps": {},
    }

    # a. Generate the shop as native CSV files.
    results["params"]["shop"] = str(shop)
    if args.shop:
        step(f"using the CSV files in {shop}")
    elif reuse:
        step(f"reusing {shop} (same users/days/seed)")
    else:
        step(f"generate: {args.users:,} users × {args.days} days, seed {args.seed}")
        for path in (shop, work / "generate-store"):
            shutil.rmtree(path, ignore_errors=True)
        params_file.unlink(missing_ok=True)
        child = cohort(work / "generate-store", "generate", "--users", str(args.users), "--days", str(args.days),
                       "--seed", str(args.seed), "--output", str(shop), log="generate")
        shutil.rmtree(work / "generate-store", ignore_errors=True)
        params_file.write_text(json.dumps(wanted))
        results["steps"]["generate"] = asdict(child) | {"output": None}
        print(f"   {child.wall_s:.1f} s, peak {child.peak_rss_mib:,.0f} MiB")
    rows = count_rows(shop)
    results["rows"] = rows
    print(f"   {rows['events']:,} events, {rows['orders']:,} orders ({rows['order_lines']:,} lines), "
          f"{rows['users']:,} users, {rows['products']:,} products; {rows['csv_mib']:,} MiB of CSV")
    if "generate" in results["steps"]:
        results["steps"]["generate"]["events_per_s"] = rows["events"] / results["steps"]["generate"]["wall_s"]

    counts: dict[str, dict] = {}

    # b./c. Cohort: import the four files into a fresh store, compute.
    if not args.skip_cohort:
        store = work / "store"
        shutil.rmtree(store, ignore_errors=True)
        step("cohort import (fresh store): " + ", ".join(IMPORT_ORDER))
        imports = {}
        for kind in IMPORT_ORDER:
            child = cohort(store, "import", "csv", str(shop / f"{kind}.csv"), "--kind", kind, log=f"import-{kind}")
            rejected = re.search(r"([\d,]+) rejected", child.output)
            imports[kind] = asdict(child) | {"rejected": int(rejected.group(1).replace(",", "")) if rejected else None}
            print(f"   {kind:<9}{child.wall_s:8.2f} s  peak {child.peak_rss_mib:8,.0f} MiB  "
                  f"{child.output.strip().splitlines()[0] if child.output.strip() else ''}")
            if imports[kind]["rejected"]:
                print(f"   WARNING: {imports[kind]['rejected']:,} {kind} rows rejected (see `cohort rejected`); "
                      "the peers read every row, so counts may differ")
        wall = sum(i["wall_s"] for i in imports.values())
        all_rows = rows["events"] + rows["order_lines"] + rows["users"] + rows["products"]
        results["steps"]["import"] = {
            "files": imports,
            "wall_s": wall,
            "cpu_s": sum(i["cpu_s"] for i in imports.values()),
            "peak_rss_mib": max(i["peak_rss_mib"] for i in imports.values()),
            "rows_per_s": all_rows / wall,
            "events_per_s": rows["events"] / imports["events"]["wall_s"],
            "store_mib": dir_mib(store),
        }
        print(f"   all files {wall:.2f} s: {all_rows / wall:,.0f} rows/s; "
              f"events.csv {rows['events'] / imports['events']['wall_s']:,.0f} events/s; "
              f"store {results['steps']['import']['store_mib']:,} MiB")

        step("cohort compute")
        child = cohort(store, "compute", log="compute")
        reported = re.search(r"in ([\d.]+)s", child.output)
        results["steps"]["compute"] = asdict(child) | {"reported_s": float(reported.group(1)) if reported else None}
        print(f"   {child.wall_s:.2f} s, peak {child.peak_rss_mib:,.0f} MiB  {child.output.strip()}")
        summary = json.loads(cohort(store, "segments", "--json", log="segments").output)
        results["cohort_segments"] = summary
        counts["cohort"] = cohort_counts(summary)

    # d./e. The peers, each in its own process.
    for peer in peers:
        title, script = PEERS[peer]
        step(f"{title}: load, then the RFM + lifecycle job")
        out = work / f"{peer}.json"
        cmd = [sys.executable, str(BENCH / script), str(shop), "--json", str(out)]
        if args.duckdb_threads and peer == "duckdb":
            cmd += ["--threads", str(args.duckdb_threads)]
        child = run_child(cmd, work / "logs" / f"{peer}.log", work)
        report = json.loads(out.read_text())
        report |= {"process_wall_s": child.wall_s, "process_cpu_s": child.cpu_s,
                   "process_peak_rss_mib": child.peak_rss_mib}
        results["steps"][peer] = report
        counts[peer] = report["counts"]
        print(f"   {report['peer']} {report['version']}: load {report['load_s']:.2f} s, "
              f"compute {report['compute_s']:.2f} s, peak {child.peak_rss_mib:,.0f} MiB")

    # f. Do the implementations agree?
    comparison = compare(counts) if len(counts) >= 2 else []
    results["counts"] = counts
    results["comparison"] = comparison
    mismatches = [r for r in comparison if not r["equal"]]
    if len(counts) >= 2:
        step("agreement: " + " = ".join(counts))
        if mismatches:
            print("MISMATCH: counts differ between implementations\n")
            print(table([[r["group"], r["segment"] or "", *(fmt(r[n]) for n in counts),
                          "" if r["equal"] else "MISMATCH"] for r in comparison],
                        ["group", "segment", *counts, ""], text_columns=2))
        else:
            n = {g: sum(1 for r in comparison if r["group"] == g) for g in GROUPS}
            print(f"   equal: total {comparison[0][next(iter(counts))]:,} persons, {n['value_tiers']} value tiers, "
                  f"{n['lifecycle']} lifecycle stages, {n['rfm']} RFM segments (+ RFM-scored buyers)")
        print("   not compared: behaviour types (not reproduced by the peers)")

    # g. The final table.
    s = results["steps"]
    c_imp, c_cmp = s.get("import", {}), s.get("compute", {})
    d, p = s.get("duckdb", {}), s.get("pandas", {})
    timings = {
        "load": {"cohort": c_imp.get("wall_s"), "duckdb": d.get("load_s"), "pandas": p.get("load_s")},
        "compute": {"cohort": c_cmp.get("wall_s"), "duckdb": d.get("compute_s"), "pandas": p.get("compute_s")},
        "compute_cpu": {"cohort": c_cmp.get("cpu_s"), "duckdb": d.get("compute_cpu_s"),
                        "pandas": p.get("compute_cpu_s")},
        "peak_rss_mib": {"cohort": max(c_imp.get("peak_rss_mib", 0), c_cmp.get("peak_rss_mib", 0)) or None,
                         "duckdb": d.get("process_peak_rss_mib"), "pandas": p.get("process_peak_rss_mib")},
    }
    timings["total"] = {k: (timings["load"][k] + timings["compute"][k])
                        if timings["load"][k] is not None and timings["compute"][k] is not None else None
                        for k in timings["load"]}
    ratios = {row: {"duckdb": ratio(v["duckdb"], v["cohort"]), "pandas": ratio(v["pandas"], v["cohort"])}
              for row, v in timings.items()}
    results["timings"], results["ratios"] = timings, ratios
    events_rate = c_imp.get("events_per_s")
    results["goals"] = {
        "compute_vs_duckdb": {"goal": GOALS["compute_vs_duckdb"], "value": ratios["compute"]["duckdb"]},
        "compute_vs_pandas": {"goal": GOALS["compute_vs_pandas"], "value": ratios["compute"]["pandas"]},
        "import_events_per_s": {"goal": GOALS["import_events_per_s"], "value": events_rate},
    }
    for goal in results["goals"].values():
        goal["met"] = goal["value"] >= goal["goal"] if goal["value"] is not None else None
    results["agree"] = not mismatches
    results["finished_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    (work / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    step(f"results: {rows['events']:,} events, {counts[next(iter(counts))]['total']:,} persons"
         if counts else "results")
    labels = [("load / import (s)", "load", "s"), ("compute (s)", "compute", "s"),
              ("load + compute (s)", "total", "s"), ("compute CPU (s)", "compute_cpu", "s"),
              ("peak memory (MiB)", "peak_rss_mib", "")]
    lines = []
    for label, key, _ in labels:
        t, r = timings[key], ratios[key]
        digits = 0 if key == "peak_rss_mib" else 2
        lines.append([label, fmt(t["cohort"], "", digits), fmt(t["duckdb"], "", digits), fmt(t["pandas"], "", digits),
                      fmt(r["duckdb"], "×"), fmt(r["pandas"], "×")])
    print(table(lines, ["", "Cohort", "DuckDB SQL", "pandas", "DuckDB/Cohort", "pandas/Cohort"]))
    if "generate" in s:
        print(f"\ngenerate: {s['generate']['wall_s']:.2f} s, {s['generate']['events_per_s']:,.0f} events/s")
    if c_imp:
        print(f"import:   {c_imp['events_per_s']:,.0f} events/s (events.csv), {c_imp['rows_per_s']:,.0f} rows/s "
              f"(all four files)")
    for name, goal in results["goals"].items():
        if goal["value"] is not None:
            unit = "×" if name.startswith("compute") else " events/s"
            print(f"goal {name}: ≥ {goal['goal']:,}{unit}: {fmt(goal['value'], unit, 2 if unit == '×' else 0)} "
                  f"({'met' if goal['met'] else 'not met'})")
    print(f"\nwrote {work / 'results.json'}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
