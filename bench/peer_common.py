"""Running one peer (DuckDB SQL or pandas) as its own process, so that its
peak memory is its own: load and compute timed separately (wall clock and
CPU), the segment counts and timings written as JSON."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(name, *, load, compute, counts, version=None):
    parser = argparse.ArgumentParser(description=f"Run the {name} peer on a shop's native CSV files.")
    parser.add_argument("shop", help="directory with events.csv, orders.csv, users.csv")
    parser.add_argument("--json", help="write timings and counts here (default: stdout)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    args = parser.parse_args()

    started, cpu = time.perf_counter(), _cpu()
    state = load(args.shop, args.threads)
    load_s, load_cpu_s, load_rss = time.perf_counter() - started, _cpu() - cpu, _peak_rss_mib()

    started, cpu = time.perf_counter(), _cpu()
    result = compute(state)
    compute_s, compute_cpu_s = time.perf_counter() - started, _cpu() - cpu

    report = {
        "peer": name,
        "version": version,
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "load_s": load_s,
        "load_cpu_s": load_cpu_s,
        "compute_s": compute_s,
        "compute_cpu_s": compute_cpu_s,
        "peak_rss_after_load_mib": load_rss,
        "peak_rss_mib": _peak_rss_mib(),
        "counts": counts(result),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    else:
        print(text)
